"""Train the gate's per-category text heads: `python -m modpipe.text.train_heads` (`make train-heads`).

Reads `shared/data/text/*.jsonl` (dev split) and the project's own prompts
(`models/training/authored_t2v.jsonl`; `--no-authored` leaves them out), embeds every record
with the shared MiniLM encoder (cached under `$MODPIPE_HOME/cache`), and fits one logistic-regression head per category on the
records whose source annotates that category (`label_scope`), plus one multi-label MLP whose
logits are averaged with the logistic ones (`modpipe.text.mlp_head`; `--no-mlp` for logistic
only). Sources are re-weighted so that no single large source dominates, and classes are
balanced. Each category is then Platt-calibrated on out-of-fold logits (3 folds over records:
held-out prompts of the same kinds). Writes `models/NAME.npz` (W, b, calib_a, calib_c, mlp_*),
`models/NAME.json` (labels, checksum, data, metrics) and the entry in `models/manifest.yaml`.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modpipe.text.dataset import (CATEGORIES, EmbeddingCache, Record, load_authored, load_records, name_swaps,
                                   public_figure_names, targets)
from modpipe.text.mlp_head import MLPArrays, fit_mlp

log = logging.getLogger("modpipe.train_heads")
SEED = 0


@dataclass
class HeadArrays:
    labels: list[str]
    W: np.ndarray
    b: np.ndarray
    calib_a: np.ndarray
    calib_c: np.ndarray
    mlp: MLPArrays | None = None

    def heads(self, model_id: str):  # noqa: ANN201 - scorers.text_embedding.Heads
        from modpipe.text.heads import Heads

        return Heads(self.labels, self.W, self.b, self.calib_a, self.calib_c, model_id, self.mlp)


def sample_weights(records: Sequence[Record], y: np.ndarray) -> np.ndarray:
    """1/sqrt(source size) per record, then each class scaled to the same total weight."""
    sizes = Counter(r.source for r in records)
    w = np.array([1.0 / np.sqrt(sizes[r.source]) for r in records])
    pos, neg = w[y].sum(), w[~y].sum()
    if pos > 0 and neg > 0:
        w = np.where(y, w * 0.5 / pos, w * 0.5 / neg)
    return w * len(records)


def _fit_logreg(X: np.ndarray, y: np.ndarray, w: np.ndarray, C: float):  # noqa: ANN202
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, max_iter=300, tol=1e-3)
    clf.fit(X, y, sample_weight=w)
    return clf.coef_[0].astype(np.float32), np.float32(clf.intercept_[0])


def _platt(logits: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    if y.all() or not y.any():
        return 1.0, 0.0
    cal = LogisticRegression(C=1e4, max_iter=200)
    cal.fit(logits[:, None], y, sample_weight=w)
    return float(cal.coef_[0, 0]), float(cal.intercept_[0])


def _mlp_weights(records: Sequence[Record], Y: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Per-category record weights for the MLP: the logistic heads' weights on in-scope records,
    scaled to sum to 1 per category (every category counts alike), 0 out of scope."""
    W = np.zeros(Y.shape, np.float32)
    for j in range(Y.shape[1]):
        idx = np.flatnonzero(M[:, j])
        y = Y[idx, j]
        if len(idx) and y.any() and not y.all():
            W[idx, j] = sample_weights([records[i] for i in idx], y) / len(idx)
    return W


def _fit_all(X: np.ndarray, records: Sequence[Record], Y: np.ndarray, M: np.ndarray, C: float,
             mlp: bool) -> tuple[np.ndarray, np.ndarray, MLPArrays | None]:
    """Logistic head per category (on its in-scope records) + one multi-label MLP.
    A category with nothing to learn from (e.g. its only source held out) gets a constant."""
    L, D = Y.shape[1], X.shape[1]
    Ws, bs = np.zeros((L, D), np.float32), np.zeros(L, np.float32)
    constant: dict[int, float] = {}
    for j in range(L):
        idx = np.flatnonzero(M[:, j])
        y = Y[idx, j]
        if not y.any() or y.all():
            constant[j] = bs[j] = -8.0 if not y.any() else 8.0
            continue
        Ws[j], bs[j] = _fit_logreg(X[idx], y, sample_weights([records[i] for i in idx], y), C)
    net = fit_mlp(X, Y, _mlp_weights(records, Y, M)) if mlp else None
    if net is not None:
        for j, value in constant.items():  # the average stays that constant
            net.W2[:, j], net.b2[j] = 0.0, value
    return Ws, bs, net


def _logits(X: np.ndarray, W: np.ndarray, b: np.ndarray, net: MLPArrays | None) -> np.ndarray:
    lin = X @ W.T + b
    return lin if net is None else (lin + net.logits(X)) / 2


def train(X: np.ndarray, records: Sequence[Record], categories: Sequence[str] = CATEGORIES,
          C: float = 2.0, calib_folds: int = 3, mlp: bool = True) -> tuple[HeadArrays, dict[str, dict]]:
    """Heads for every category; each Platt-calibrated on out-of-fold logits (records split
    into `calib_folds`, the whole fit repeated per fold)."""
    from sklearn.model_selection import KFold

    cats = list(categories)
    M = np.zeros((len(records), len(cats)), bool)
    Y = np.zeros_like(M)
    for j, cat in enumerate(cats):
        M[:, j], Y[:, j] = targets(records, cat, training=True)
    W, b, net = _fit_all(X, records, Y, M, C, mlp)
    oof = np.full(M.shape, np.nan, np.float32)
    if calib_folds >= 2:
        for tr, te in KFold(calib_folds, shuffle=True, random_state=SEED).split(X):
            fW, fb, fnet = _fit_all(X[tr], [records[i] for i in tr], Y[tr], M[tr], C, mlp)
            oof[te] = _logits(X[te], fW, fb, fnet)
    As, Cs, metrics = np.ones(len(cats), np.float32), np.zeros(len(cats), np.float32), {}
    for j, cat in enumerate(cats):
        ok = M[:, j] & ~np.isnan(oof[:, j])
        y = Y[ok, j]
        if ok.any() and y.any() and not y.all():
            # Platt on the natural in-scope label mix (no class balancing): a score is a probability
            As[j], Cs[j] = _platt(oof[ok, j], y, np.ones(int(ok.sum())))
            full = np.full(len(records), np.nan, dtype=np.float32)
            full[ok] = oof[ok, j]
            metrics[cat] = _oof_metrics(full, records, cat, float(As[j]), float(Cs[j]))
    return HeadArrays(cats, W, b, As, Cs, net), metrics


def _oof_metrics(oof: np.ndarray, records: Sequence[Record], cat: str, a: float, c: float) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    ok = ~np.isnan(oof)
    _, y = targets(records, cat)
    p = 1 / (1 + np.exp(-np.clip(a * oof[ok] + c, -60.0, 60.0)))
    yy = y[ok]
    if not yy.any() or yy.all():
        return {}
    return {"record_heldout_auprc": round(float(average_precision_score(yy, p)), 4),
            "record_heldout_auroc": round(float(roc_auc_score(yy, p)), 4),
            "in_scope": int(ok.sum()), "positives": int(yy.sum())}


def save(heads: HeadArrays, out_dir: Path, name: str, info: dict) -> str:
    """Write NAME.npz + NAME.json; returns the sha256 of the npz."""
    out_dir.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    extra = {k: v.astype(np.float16).astype(np.float32) for k, v in heads.mlp.as_dict().items()} if heads.mlp else {}
    np.savez_compressed(buf, W=heads.W.astype(np.float16).astype(np.float32), b=heads.b,
                        calib_a=heads.calib_a, calib_c=heads.calib_c, **extra)
    blob = buf.getvalue()
    digest = hashlib.sha256(blob).hexdigest()
    (out_dir / f"{name}.npz").write_bytes(blob)
    meta = {"labels": heads.labels, "checksum": f"sha256:{digest}", **info}
    (out_dir / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    update_manifest(out_dir / "manifest.yaml", name, {
        "files": [f"{name}.npz", f"{name}.json"], "bytes": len(blob), "checksum": meta["checksum"],
        "kind": meta.get("kind", "logistic heads over sentence embeddings (Platt-calibrated)"),
        "encoder": meta.get("encoder"), "labels": meta["labels"], "trained_by": meta.get("command"),
        "data": meta.get("data"), "languages": meta.get("languages"), "metrics": meta.get("metrics"),
        **({"metrics_note": meta["metrics_note"]} if "metrics_note" in meta else {}),
    })
    return digest


def languages(records: Sequence[Record]) -> dict[str, int]:
    """Training texts per language: the gate reads a prompt as written only in a language its
    heads learned from (`TextEmbeddingScorer.languages`); others are translated or go to review."""
    return dict(sorted(Counter(r.lang for r in records).items()))


def update_manifest(path: Path, name: str, entry: dict) -> None:
    """Set models/manifest.yaml's entry `name`, keeping the file's comment header and other entries."""
    import yaml

    text = path.read_text() if path.is_file() else ""
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    manifest = yaml.safe_load(text) or {"models": {}}
    manifest.setdefault("models", {})[name] = entry
    path.write_text(header + yaml.safe_dump(manifest, sort_keys=False, width=100))


def embed(records: Sequence[Record], cache: EmbeddingCache) -> np.ndarray:
    from modpipe.text.normalize import normalize_text

    return cache.encode([normalize_text(r.text) for r in records])


PER_SOURCE = 0     # records per source (0 = all; a cap keeps the label mix and bounds CPU time)
MAX_LENGTH = 128   # encoder tokens per training text, as the gate reads them


def open_cache(max_length: int = MAX_LENGTH) -> EmbeddingCache:
    from modpipe.settings import get_settings
    from modpipe.text.encoder import TextEncoder

    s = get_settings()
    return EmbeddingCache(TextEncoder(threads=s.threads, max_length=max_length), s.state_dir() / "cache")


def main(argv: Sequence[str] | None = None) -> int:
    from modpipe.assets import models_dir

    ap = argparse.ArgumentParser(prog="python -m modpipe.text.train_heads", description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="folder of *.jsonl (default: shared/data/text)")
    ap.add_argument("--out", type=Path, default=None, help="models folder (default: the shipped models/)")
    ap.add_argument("--name", default="text_heads")
    ap.add_argument("--C", type=float, default=2.0, help="inverse L2 strength of the logistic heads")
    ap.add_argument("--per-source", type=int, default=PER_SOURCE, help="records per source (0 = all)")
    ap.add_argument("--max-length", type=int, default=MAX_LENGTH, help="encoder tokens per text")
    ap.add_argument("--no-mlp", action="store_true", help="logistic heads only (no MLP average)")
    ap.add_argument("--no-authored", action="store_true",
                    help="leave out models/training/authored_t2v.jsonl (the project's own prompts)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    records = load_records(args.data, per_source=args.per_source or None)
    if not args.no_authored:
        records += load_authored()
    records += name_swaps(records, public_figure_names(args.data))  # a name alone is no content: dataset.SWAP_SOURCES
    cache = open_cache(args.max_length)
    X = embed(records, cache)
    heads, metrics = train(X, records, C=args.C, mlp=not args.no_mlp)
    counts = Counter(r.source for r in records)
    data = {src: {"records": n, "positives": {c: sum(1 for r in records if r.source == src and c in r.labels)
                                               for c in CATEGORIES if any(r.source == src and c in r.labels for r in records)}}
            for src, n in sorted(counts.items())}
    kind = ("logistic heads averaged with a one-hidden-layer MLP (logits), Platt-calibrated"
            if heads.mlp is not None else "logistic heads over sentence embeddings (Platt-calibrated)")
    info = {"encoder": cache.encoder.model_id, "kind": kind, "C": args.C, "seed": SEED, "split": "dev",
            "per_source": args.per_source, "max_length": args.max_length,
            "command": f"python -m modpipe.text.train_heads --per-source {args.per_source} --max-length {args.max_length}"
                       + (" --no-mlp" if args.no_mlp else "") + (" --no-authored" if args.no_authored else ""),
            "data": data, "languages": languages(records), "metrics": metrics}
    if cache.encoder.tuned is not None:
        info["metrics_note"] = ("out-of-fold over records the encoder's tuned layers were trained on: "
                                "optimistic; `make tune-encoder ARGS=--compare` holds out both")
    digest = save(heads, args.out or models_dir(), args.name, info)
    for cat, m in metrics.items():
        print(f"{cat:15s} out-of-fold AUPRC {m.get('record_heldout_auprc')}  "
              f"AUROC {m.get('record_heldout_auroc')}  (in scope {m.get('in_scope')}, positives {m.get('positives')})")
    print(f"wrote {args.name}.npz sha256:{digest[:16]}…")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
