"""Evaluate the prompt gate on the dev data with whole sources held out:
`python -m modpipe.text.evaluate` (`make eval-gate`).

Protocol (whole sources held out): the sources are split into k groups (`--folds`, default 5;
`--folds 0` = leave-one-source-out); for each group the heads are retrained and calibrated
(`train_heads.train`) on the *other* sources only, then the policy's full text path scores the
held-out sources: every normalisation variant, the policy's exemplars (positive and negative),
the trained heads and the lexicon, combined per category exactly as the gate does (weighted max
over signals and variants). So each figure below is measured on a source the heads never saw.

Prints, per category (on in-scope records only): precision and recall at the policy's
`review_at`, AUPRC, recall at 1% and 2% FPR; then the gate-level figures at the policy's
thresholds: unsafe T2V recall, benign T2V FPR, hard-negative FPR, jailbreak catch rate, and the
binary AUPRC of the chat-style (social text) sources, ranked as a Decision's `score` ranks (each
category on one scale, `decide.scale`) by every category (strict: a source's negatives are safe
only for the categories it labels) and by those categories only (lenient).
Metrics come from scikit-learn.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from modpipe.decide.decide import scale
from modpipe.text.dataset import (BENIGN_T2V, CATEGORY_OF, UNSAFE_T2V, Record, load_authored, load_records,
                                   name_swaps, public_figure_names, targets)
from modpipe.text.train_heads import MAX_LENGTH, PER_SOURCE, embed, open_cache, train

log = logging.getLogger("modpipe.evaluate")


class TextPath:
    """The policy's text signals (text_embedding + lexicon scorers) over precomputed embeddings."""

    def __init__(self, pipeline) -> None:  # noqa: ANN001 - Pipeline
        self.pipeline = pipeline
        from modpipe.types import Modality

        policy = pipeline.policy
        self.text = [s for s in pipeline.scorers.values() if s.type == "text_embedding"]
        self.lexicons = [s for s in pipeline.scorers.values() if s.type == "lexicon"]
        names = {s.name for s in self.text + self.lexicons}
        # the signals a prompt feeds (a signal limited to speech/OCR never sees one)
        self.categories = {
            c: [sig for sig in cat.signals if sig.scorer in names
                and (not sig.modalities or Modality.PROMPT in sig.modalities)]
            for c, cat in policy.categories.items()
        }
        self.categories = {c: sigs for c, sigs in self.categories.items() if sigs}

    def prompt_variants(self, texts: Sequence[str]) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """What the gate scores for each text, read as the pipeline reads it (a prompt in another
        language with its English translation, `translate.variants`): the variant texts, the text
        each belongs to, which of them the encoder skips (a prompt as written, when its
        translation replaces it or nothing here reads its language; the lexicon still reads
        those), and which texts are unread (`Pipeline.unread`: `score(unread=)` floors them)."""
        from modpipe.text import translate

        readings = self.pipeline.read_languages(list(texts))
        unread = np.array([self.pipeline.unread(t, r) is not None for t, r in zip(texts, readings, strict=True)],
                          dtype=bool)
        readable = self.pipeline.text_languages
        per_text = [translate.variants(t, r, translate.skipped(r, u, readable), self.pipeline.euphemisms)
                    for t, r, u in zip(texts, readings, unread, strict=True)]
        owner = np.array([i for i, vs in enumerate(per_text) for _ in vs], dtype=np.int64)
        flat = [v for vs in per_text for v, _ in vs]
        skip = np.array([("as_written" in meta) for vs in per_text for _, meta in vs], dtype=bool)
        return flat, owner, skip, unread

    def exemplar_texts(self) -> list[str]:
        """The text scorers' exemplar phrases, scorer by scorer (the order `score(exemplars=)` takes)."""
        return [t for sc in self.text for t in sc.exemplar_texts]

    def score(self, variant_texts: Sequence[str], variant_emb: np.ndarray, owner: np.ndarray,
              n_records: int, heads=None, chunk: np.ndarray | None = None,  # noqa: ANN001
              exemplars: np.ndarray | None = None, skip: np.ndarray | None = None,
              unread: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """category -> score per record (max over its variants, their windows, and signals).
        `chunk` marks rows that are chunks of a long text, discounted as the scorer does; `skip`
        rows the encoder does not read (`prompt_variants`: a prompt read through its translation);
        `unread` records (per record) get the categories the encoder feeds raised to the policy's
        `languages.unread` threshold, as the live decision's action is;
        `exemplars` are `exemplar_texts()` embedded by the encoder that embedded the variants
        (default: the scorers' own, right when that encoder is the shipped one)."""
        from modpipe.scorers.text_embedding import chunk_score
        from modpipe.types import Modality, Sample

        raw: dict[tuple[str, str], np.ndarray] = {}
        lo = 0
        for sc in self.text:
            saved, saved_ex = sc.heads, sc.exemplar_embeddings
            k = len(sc.exemplar_texts)
            try:
                if exemplars is not None:
                    sc.exemplar_embeddings = exemplars[lo:lo + k]
                if heads is not None:
                    sc.heads = heads
                for label, (vals, _) in sc.score_embeddings(variant_emb, texts=variant_texts).items():
                    if chunk is not None:
                        vals = np.where(chunk, chunk_score(vals, sc.chunks_count(label)), vals)
                    raw[(sc.name, label)] = vals if skip is None else np.where(skip, 0.0, vals)
            finally:
                if exemplars is not None:
                    sc.exemplar_embeddings = saved_ex
                sc.heads = saved
            lo += k
        samples = [Sample(index=i, modality=Modality.PROMPT, text=t) for i, t in enumerate(variant_texts)]
        for lx in self.lexicons:
            for s in lx.score(samples):
                raw.setdefault((lx.name, s.label), np.zeros(len(samples), np.float32))[s.sample] = s.value
        out: dict[str, np.ndarray] = {}
        for cat, sigs in self.categories.items():
            per_variant = np.zeros(len(variant_texts), np.float32)
            for sig in sigs:
                if (sig.scorer, sig.label) in raw:
                    per_variant = np.maximum(per_variant, sig.weighted(raw[(sig.scorer, sig.label)]))
            per_record = np.zeros(n_records, np.float32)
            np.maximum.at(per_record, owner, per_variant)
            out[cat] = per_record
        pol = self.pipeline.policy
        if unread is not None and unread.any() and pol.languages.unread != "as_written":
            for cat in set(out) & set(self.pipeline.unread_categories):
                floor = getattr(pol.categories[cat], f"{pol.languages.unread}_at")
                out[cat] = np.where(unread, np.maximum(out[cat], floor), out[cat])
        return out


def record_folds(records: Sequence[Record], folds: int) -> list[np.ndarray]:
    """Held-out record indices per fold, stratified by source and labels (same-kind prompts)."""
    from sklearn.model_selection import StratifiedKFold

    strata = np.array([f"{r.source}/{'+'.join(sorted(r.labels))}" for r in records])
    counts = {s: (strata == s).sum() for s in set(strata)}
    strata = np.array([s if counts[s] >= folds else "rare" for s in strata])
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    return [te for _, te in skf.split(np.zeros(len(records)), strata)]


def source_folds(records: Sequence[Record], folds: int) -> list[list[str]]:
    """Groups of sources to hold out together: one per source, or `folds` groups of similar size."""
    from collections import Counter

    sizes = Counter(r.source for r in records)
    if folds <= 0 or folds >= len(sizes):
        return [[s] for s in sorted(sizes)]
    groups: list[list[str]] = [[] for _ in range(folds)]
    load = [0] * folds
    for s, n in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])):  # largest first, to the lightest
        k = load.index(min(load))
        groups[k].append(s)
        load[k] += n
    return groups


def heldout_scores(records: Sequence[Record], path: TextPath, C: float = 2.0, folds: int = 5,
                   max_length: int = MAX_LENGTH, by: str = "source", mlp: bool = True,
                   extra: Sequence[Record] = (), names: Sequence[str] | None = None,
                   ) -> dict[str, np.ndarray]:
    """Category scores for every record from heads that never saw it (`by="record"`) or never
    saw its whole source (`by="source"`). `extra` records (the project's authored prompts) join
    every fold's training set and are never scored; so do the name-swap copies of the fold's own
    training records (`name_swaps`), as in `train_heads`."""
    variant_texts, variant_owner, variant_skip, unread = path.prompt_variants([r.text for r in records])
    cache = open_cache(max_length)
    V, window_owner = cache.encode_windows(variant_texts)  # every window of every variant, as the gate
    owner = variant_owner[window_owner]
    flat = [variant_texts[i] for i in window_owner]
    chunk, skip = chunk_rows(window_owner), variant_skip[window_owner]
    first = np.unique(owner, return_index=True)[1]  # each record's first row (as written): the heads train on it
    X = V[first]
    src = np.array([r.source for r in records])
    scores = {c: np.zeros(len(records), np.float32) for c in path.categories}
    if by == "source":
        helds = [np.flatnonzero(np.isin(src, g)) for g in source_folds(records, folds)]
    else:
        helds = record_folds(records, folds)
    X_extra = embed(extra, cache) if extra else X[:0]
    for held in helds:
        train_idx = np.setdiff1d(np.arange(len(records)), held)
        train_recs = [records[i] for i in train_idx]
        swaps = name_swaps(train_recs, names)
        arrays, _ = train(np.concatenate([X[train_idx], X_extra, embed(swaps, cache) if swaps else X[:0]]),
                          train_recs + list(extra) + swaps, C=C, calib_folds=3, mlp=mlp)
        heads = arrays.heads("heldout")
        rows = np.flatnonzero(np.isin(owner, held))
        remap = {r: k for k, r in enumerate(held)}
        part = path.score([flat[i] for i in rows], V[rows], np.array([remap[o] for o in owner[rows]]),
                          len(held), heads, chunk[rows], skip=skip[rows], unread=unread[held])
        for c, vals in part.items():
            scores[c][held] = vals
        log.info("held out %d records", len(held))
    return scores


def chunk_rows(text_of_row: np.ndarray) -> np.ndarray:
    """Rows after the first of each text (its rows are consecutive): the chunks of a long text."""
    return np.r_[False, text_of_row[1:] == text_of_row[:-1]] if len(text_of_row) else np.zeros(0, bool)


def recall_at_fpr(y: np.ndarray, p: np.ndarray, fpr: float) -> float:
    from sklearn.metrics import roc_curve

    f, t, _ = roc_curve(y, p)
    ok = f <= fpr
    return float(t[ok].max()) if ok.any() else 0.0


def load_beside(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """A labelled test file scored beside a fold (`finetune --compare --beside`), never trained on:
    the probes' lines (`text`, `unsafe`, `category`: benchmarks/data/*probe.jsonl) or HateCheck's
    (`test_case`, `label_gold`, all about hate). Returns texts, unsafe flags and categories."""
    import json

    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        r = json.loads(line) if line.strip() else None
        if r is None:
            continue
        if {"text", "unsafe", "category"} <= r.keys():
            rows.append((r["text"], bool(r["unsafe"]), CATEGORY_OF.get(r["category"], r["category"])))
        elif {"test_case", "label_gold"} <= r.keys():
            rows.append((r["test_case"], r["label_gold"] == "hateful", "hate"))
        else:
            raise SystemExit(f"{path}:{n}: a line needs text, unsafe and category (a probe's) "
                             "or test_case and label_gold (HateCheck's)")
    if not rows:
        raise SystemExit(f"{path}: no texts")
    texts, unsafe, cats = zip(*rows, strict=True)
    return list(texts), np.array(unsafe), np.array(cats)


def beside_report(name: str, unsafe: np.ndarray, cats: np.ndarray, scores: dict[str, np.ndarray],
                  policy) -> str:  # noqa: ANN001
    """A test file's figures, as `benchmarks/gate_probe.py` prints them for the shipped gate: binary
    AUPRC of the decisions' score, recall and safe texts flagged at review; then, for each category
    whose lines the file labels both ways (HateCheck's and the stance probe's: hate), the AUPRC of
    that category's own score and the share it flags on its own."""
    from sklearn.metrics import average_precision_score

    worst, flagged = decision_scores(scores, policy)
    lines = [f"{name}: {len(unsafe)} texts, {unsafe.sum()} unsafe (never trained on)"]
    if unsafe.all() or not unsafe.any():
        return "\n".join([*lines, f"  flagged {flagged.mean():.3f} ({flagged.sum()}/{len(unsafe)})"])
    lines.append(f"  binary AUPRC {average_precision_score(unsafe, worst):.3f} (decisions' score); "
                 f"recall {flagged[unsafe].mean():.3f}, safe flagged {flagged[~unsafe].mean():.3f}")
    for c in sorted(set(cats.tolist()) & set(scores)):
        y, p = unsafe[cats == c], scores[c][cats == c]
        if y.all() or not y.any():
            continue
        own = p >= policy.categories[c].review_at
        lines.append(f"  {c}: AUPRC {average_precision_score(y, p):.3f} on its own score; "
                     f"it flags {own[y].mean():.3f} of the unsafe, {own[~y].mean():.3f} of the safe")
    return "\n".join(lines)


def decision_scores(scores: dict[str, np.ndarray], policy) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """Each text's score as a Decision's `score` ranks it (every category on one scale,
    `decide.scale`; the highest), and whether any category reaches its `review_at`."""
    n = len(next(iter(scores.values())))
    worst, flagged = np.zeros(n, np.float32), np.zeros(n, bool)
    for c, p in scores.items():
        cat = policy.categories[c]
        flagged |= p >= cat.review_at
        worst = np.maximum(worst, np.vectorize(scale)(p, cat.review_at, cat.block_at))
    return worst, flagged


def report(records: Sequence[Record], scores: dict[str, np.ndarray], policy) -> str:  # noqa: ANN001
    from sklearn.metrics import average_precision_score, precision_score, recall_score

    review = {c: policy.categories[c].review_at for c in scores}
    lines = [f"{'category':15s} {'n':>6s} {'pos':>5s} {'review_at':>9s} {'prec':>6s} {'recall':>6s} "
             f"{'AUPRC':>6s} {'R@1%':>6s} {'R@2%':>6s} {'thr@0.5%FPR':>11s}"]
    for c, p in scores.items():
        mask, y = targets(records, c)
        if not mask.any() or not y[mask].any():
            lines.append(f"{c:15s} {'(no dev positives to measure)':>40s}")
            continue
        yy, pp = y[mask], p[mask]
        pred = pp >= review[c]
        neg = np.sort(pp[~yy])
        thr = float(neg[int(np.ceil(0.995 * len(neg))) - 1]) if len(neg) else 1.0
        lines.append(
            f"{c:15s} {mask.sum():6d} {yy.sum():5d} {review[c]:9.2f} "
            f"{precision_score(yy, pred, zero_division=0):6.3f} {recall_score(yy, pred):6.3f} "
            f"{average_precision_score(yy, pp):6.3f} {recall_at_fpr(yy, pp, 0.01):6.3f} "
            f"{recall_at_fpr(yy, pp, 0.02):6.3f} {thr:11.3f}")
    worst, flagged = decision_scores(scores, policy)
    worst_in_scope = np.zeros(len(records), np.float32)  # over the categories the record's source labels
    for c, p in scores.items():
        norm = np.vectorize(scale)(p, review[c], policy.categories[c].block_at)  # as a Decision's `score`
        worst_in_scope = np.where([c in r.scope for r in records], np.maximum(worst_in_scope, norm), worst_in_scope)
    src = np.array([r.source for r in records])
    unsafe = np.array([r.unsafe for r in records])
    benign_t2v = np.isin(src, list(BENIGN_T2V)) & ~unsafe
    unsafe_t2v = np.isin(src, list(UNSAFE_T2V)) & unsafe
    unsafe_t2v_nopf = unsafe_t2v & np.array([bool(r.labels - {"public_figure"}) for r in records])
    hard = np.array([r.hard_negative for r in records]) & ~unsafe
    xstest = (src == "xstest_safe") & ~unsafe
    adv = np.array([r.adversarial for r in records]) & unsafe
    social = np.array([r.kind == "social_text" for r in records])

    def rate(m: np.ndarray) -> str:
        return f"{flagged[m].mean():.3f} ({flagged[m].sum()}/{m.sum()})" if m.any() else "n/a"

    lines += [
        "",
        "gate at the policy's review_at thresholds (flagged = review or block):",
        f"  unsafe T2V recall (t2vsafetybench)           {rate(unsafe_t2v)}",
        f"    excluding public-figure-only prompts        {rate(unsafe_t2v_nopf)}",
        f"  benign T2V false-positive rate               {rate(benign_t2v)}",
        f"  hard-negative FPR (xstest_safe + trigger-word benign) {rate(hard)}",
        f"    xstest_safe alone                           {rate(xstest)}",
        f"  jailbreak catch rate (adversarial, unsafe)   {rate(adv)}",
    ]
    for s in sorted(set(src[adv])):
        lines.append(f"    {s:40s} {rate(adv & (src == s))}")
    if social.any():
        lines.append(f"  chat-style proxy: binary AUPRC over social-text sources "
                     f"{average_precision_score(unsafe[social], worst[social]):.3f} "
                     f"(n={social.sum()}, unsafe={unsafe[social].sum()})")
        # a source labels few categories: its negatives are safe only for those (extremism_curated's
        # are insults, harassment under the policy), so the figure above is strict; this one lenient
        lines.append(f"    each source's own categories only              "
                     f"{average_precision_score(unsafe[social], worst_in_scope[social]):.3f}")
        for s in sorted(set(src[social])):
            m = social & (src == s)
            lines.append(f"    {s:40s} AUPRC {average_precision_score(unsafe[m], worst[m]):.3f} "
                         f"(own-categories {average_precision_score(unsafe[m], worst_in_scope[m]):.3f})  "
                         f"flag-rate unsafe {flagged[m & unsafe].mean():.3f} benign {flagged[m & ~unsafe].mean():.3f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from modpipe.pipeline import Pipeline

    ap = argparse.ArgumentParser(prog="python -m modpipe.text.evaluate", description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="folder of *.jsonl (default: shared/data/text)")
    ap.add_argument("--policy", type=Path, default=None, help="policy YAML (default: the shipped one)")
    ap.add_argument("--C", type=float, default=2.0)
    ap.add_argument("--folds", type=int, default=5, help="folds; with --by source, 0 = one per source")
    ap.add_argument("--by", choices=["source", "record", "both"], default="both",
                    help="hold out whole sources (unseen kinds), records (same kinds), or report both")
    ap.add_argument("--per-source", type=int, default=PER_SOURCE, help="records per source (0 = all)")
    ap.add_argument("--max-length", type=int, default=MAX_LENGTH, help="encoder tokens per text")
    ap.add_argument("--no-mlp", action="store_true", help="logistic heads only (no MLP average)")
    ap.add_argument("--no-authored", action="store_true",
                    help="train without models/training/authored_t2v.jsonl (never scored either way)")
    ap.add_argument("--save", type=Path, default=None, help="write per-record scores to this .npz")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    records = load_records(args.data, per_source=args.per_source or None)
    pipeline = Pipeline.from_policy(args.policy)
    path = TextPath(pipeline)
    print(f"policy {pipeline.policy.name} {pipeline.loaded.hash[:19]}; {len(records)} dev records "
          f"({args.per_source or 'all'} per source)")
    if open_cache(args.max_length).encoder.tuned is not None:
        print("NOTE: MiniLM's top layers were fine-tuned on every dev record (models/minilm_tuned.safetensors). "
              "Below, the heads are held out but the encoder is not, so the figures are optimistic; "
              "`make tune-encoder ARGS='--compare --by record|source'` holds out both.")
    for by in (["record", "source"] if args.by == "both" else [args.by]):
        scores = heldout_scores(records, path, C=args.C, folds=args.folds, max_length=args.max_length, by=by,
                                mlp=not args.no_mlp, extra=() if args.no_authored else load_authored(),
                                names=public_figure_names(args.data))
        if args.save:
            np.savez(args.save.with_suffix(f".{by}.npz"), ids=np.array([r.id for r in records]), **scores)
        what = ("records held out (same kinds of prompts, unseen texts)" if by == "record" else
                "whole sources held out (unseen kinds of prompts)")
        print(f"\n=== {args.folds}-fold, {what} ===")
        print(report(records, scores, pipeline.policy))
    pipeline.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
