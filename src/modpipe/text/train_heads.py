"""Train the gate's per-category text heads: `python -m modpipe.text.train_heads` (`make train-heads`).

Reads `shared/data/text/*.jsonl` (dev split), embeds every record with the shared MiniLM encoder
(cached under `$MODPIPE_HOME/cache`), and fits one logistic-regression head per category on the
records whose source annotates that category (`label_scope`). Sources are re-weighted so that no
single large source dominates, and classes are balanced. Each head is then Platt-calibrated on
out-of-fold logits (stratified 3-fold over records: held-out prompts of the same kinds). Writes `models/NAME.npz` (W, b, calib_a, calib_c),
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

from modpipe.text.dataset import CATEGORIES, EmbeddingCache, Record, load_records, targets

log = logging.getLogger("modpipe.train_heads")
SEED = 0


@dataclass
class HeadArrays:
    labels: list[str]
    W: np.ndarray
    b: np.ndarray
    calib_a: np.ndarray
    calib_c: np.ndarray


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


def fit_category(X: np.ndarray, records: Sequence[Record], category: str, C: float,
                 calib_folds: int = 3) -> tuple[np.ndarray, np.float32, float, float, np.ndarray | None]:
    """Head for one category on its in-scope records; Platt fitted on source-grouped folds.
    Returns (w, b, a, c, out_of_fold_logits or None)."""
    from sklearn.model_selection import StratifiedKFold

    mask, y_all = targets(records, category)
    idx = np.flatnonzero(mask)
    recs = [records[i] for i in idx]
    Xc, y = X[idx], y_all[idx]
    if not y.any() or y.all():  # nothing to learn from (e.g. its only source is held out)
        return np.zeros(X.shape[1], np.float32), np.float32(-8.0 if not y.any() else 8.0), 1.0, 0.0, None
    w = sample_weights(recs, y)
    coef, intercept = _fit_logreg(Xc, y, w, C)
    oof = np.zeros(len(idx), dtype=np.float32)
    covered = np.zeros(len(idx), dtype=bool)
    if calib_folds >= 2 and min(y.sum(), (~y).sum()) >= calib_folds:
        folds = StratifiedKFold(n_splits=calib_folds, shuffle=True, random_state=SEED)
        for tr, te in folds.split(Xc, y):
            cw, cb = _fit_logreg(Xc[tr], y[tr], sample_weights([recs[i] for i in tr], y[tr]), C)
            oof[te] = Xc[te] @ cw + cb
            covered[te] = True
    if not covered.any():
        return coef, intercept, 1.0, 0.0, None
    # Platt on the natural in-scope label mix (no class balancing): a score is a probability
    a, c = _platt(oof[covered], y[covered], np.ones(int(covered.sum())))
    full = np.full(len(records), np.nan, dtype=np.float32)
    full[idx[covered]] = oof[covered]
    return coef, intercept, a, c, full


def train(X: np.ndarray, records: Sequence[Record], categories: Sequence[str] = CATEGORIES,
          C: float = 2.0, calib_folds: int = 3) -> tuple[HeadArrays, dict[str, dict]]:
    Ws, bs, As, Cs, metrics = [], [], [], [], {}
    for cat in categories:
        coef, intercept, a, c, oof = fit_category(X, records, cat, C, calib_folds)
        Ws.append(coef)
        bs.append(intercept)
        As.append(a)
        Cs.append(c)
        if oof is not None:
            metrics[cat] = _oof_metrics(oof, records, cat, a, c)
    heads = HeadArrays(list(categories), np.stack(Ws), np.array(bs, np.float32),
                       np.array(As, np.float32), np.array(Cs, np.float32))
    return heads, metrics


def _oof_metrics(oof: np.ndarray, records: Sequence[Record], cat: str, a: float, c: float) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    ok = ~np.isnan(oof)
    _, y = targets(records, cat)
    p = 1 / (1 + np.exp(-(a * oof[ok] + c)))
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
    np.savez_compressed(buf, W=heads.W.astype(np.float16).astype(np.float32), b=heads.b,
                        calib_a=heads.calib_a, calib_c=heads.calib_c)
    blob = buf.getvalue()
    digest = hashlib.sha256(blob).hexdigest()
    (out_dir / f"{name}.npz").write_bytes(blob)
    meta = {"labels": heads.labels, "checksum": f"sha256:{digest}", **info}
    (out_dir / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    _update_manifest(out_dir / "manifest.yaml", name, meta, len(blob))
    return digest


def _update_manifest(path: Path, name: str, meta: dict, size: int) -> None:
    import yaml

    text = path.read_text() if path.is_file() else ""
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    manifest = yaml.safe_load(text) or {"models": {}}
    manifest.setdefault("models", {})[name] = {
        "files": [f"{name}.npz", f"{name}.json"], "bytes": size, "checksum": meta["checksum"],
        "kind": "logistic heads over sentence embeddings (Platt-calibrated)",
        "encoder": meta.get("encoder"), "labels": meta["labels"], "trained_by": meta.get("command"),
        "data": meta.get("data"), "metrics": meta.get("metrics"),
    }
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
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    records = load_records(args.data, per_source=args.per_source or None)
    cache = open_cache(args.max_length)
    X = embed(records, cache)
    heads, metrics = train(X, records, C=args.C)
    counts = Counter(r.source for r in records)
    data = {src: {"records": n, "positives": {c: sum(1 for r in records if r.source == src and c in r.labels)
                                               for c in CATEGORIES if any(r.source == src and c in r.labels for r in records)}}
            for src, n in sorted(counts.items())}
    info = {"encoder": cache.encoder.model_id, "C": args.C, "seed": SEED, "split": "dev",
            "per_source": args.per_source, "max_length": args.max_length,
            "command": f"python -m modpipe.text.train_heads --per-source {args.per_source} --max-length {args.max_length}", "data": data, "metrics": metrics}
    digest = save(heads, args.out or models_dir(), args.name, info)
    for cat, m in metrics.items():
        print(f"{cat:15s} out-of-fold AUPRC {m.get('record_heldout_auprc')}  "
              f"AUROC {m.get('record_heldout_auroc')}  (in scope {m.get('in_scope')}, positives {m.get('positives')})")
    print(f"wrote {args.name}.npz sha256:{digest[:16]}…")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
