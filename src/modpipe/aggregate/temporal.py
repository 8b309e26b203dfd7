"""Aggregate one category's scores over time (seconds, from timestamps) and across modalities.

For each signal the category lists, scores are weighted, then per modality:
1. **smoothing**: a centred moving average over `window_s` seconds (visual modalities; text
   spans are already temporal units and are not smoothed);
2. **method**: `max` of the smoothed track, `topk_mean` (mean of the k highest), or `k_of_n`
   (the k-th highest value within any n consecutive samples);
3. **min duration**: a run of samples at or over `review_at` that lasts less than
   `min_duration_s` counts only up to just below `block_at` — unless `instant_block` and one raw
   sample reaches `block_at` (a single flashed frame of clearly harmful content still blocks).
Across modalities the best is taken, plus `fusion_boost` for each other modality that agrees
(≥ review_at) on an overlapping time span. Segments (start, end, modality, scorer, evidence)
are the runs that reach `review_at`; for prompts the top-scoring samples.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from modpipe.policy.schema import Aggregate, Category, Thresholds
from modpipe.types import Modality, Score, Segment


@dataclass(frozen=True)
class Aggregated:
    value: float
    segments: list[Segment]
    reasons: list[str]


def _signal_scores(cat: Category, scores: list[Score]) -> list[Score]:
    out = []
    for sig in cat.signals:
        mods = set(sig.modalities) if sig.modalities else None
        for s in scores:
            if s.scorer == sig.scorer and s.label == sig.label and (mods is None or s.modality in mods):
                out.append(s.with_value(min(1.0, s.value * sig.weight)) if sig.weight != 1.0 else s)
    return out


def _track(scores: list[Score]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Score]]:
    """Per sample time: the best score among signals (start, end, value, best Score)."""
    best: dict[int, Score] = {}
    for s in scores:
        if s.sample not in best or s.value > best[s.sample].value:
            best[s.sample] = s
    items = sorted(best.values(), key=lambda s: (s.start or 0.0, s.sample))
    starts = np.array([s.start or 0.0 for s in items])
    ends = np.array([s.end if s.end is not None else (s.start or 0.0) for s in items])
    return starts, ends, np.array([s.value for s in items]), items


def _smooth(starts: np.ndarray, values: np.ndarray, window_s: float) -> np.ndarray:
    if window_s <= 0 or len(values) < 2:
        return values
    out = np.empty_like(values)
    for i, t in enumerate(starts):
        m = np.abs(starts - t) <= window_s / 2
        out[i] = values[m].mean()
    return out


def _method(values: np.ndarray, agg: Aggregate) -> float:
    if len(values) == 0:
        return 0.0
    if agg.method == "max":
        return float(values.max())
    if agg.method == "topk_mean":
        return float(np.sort(values)[::-1][: agg.k].mean())
    n = min(agg.n, len(values))
    k = min(agg.k, n)
    return float(max(np.sort(values[i : i + n])[::-1][k - 1] for i in range(len(values) - n + 1)))


def _runs(starts, ends, values, items, level: float, gap_s: float) -> list[tuple[float, float, float, Score]]:
    runs: list[list] = []
    for t0, t1, v, s in zip(starts, ends, values, items, strict=True):
        if v < level:
            continue
        if runs and t0 - runs[-1][1] <= gap_s:
            r = runs[-1]
            r[1] = max(r[1], t1)
            if v > r[2]:
                r[2], r[3] = v, s
        else:
            runs.append([t0, t1, v, s])
    return [tuple(r) for r in runs]


def aggregate(cat: Category, th: Thresholds, scores: list[Score]) -> Aggregated:
    agg = cat.aggregate
    sig = _signal_scores(cat, scores)
    if not sig:
        return Aggregated(0.0, [], [])
    by_mod: dict[Modality, list[Score]] = defaultdict(list)
    for s in sig:
        by_mod[s.modality].append(s)

    per_mod: dict[Modality, float] = {}
    mod_runs: dict[Modality, list] = {}
    reasons: list[str] = []
    for mod, ss in by_mod.items():
        starts, ends, raw, items = _track(ss)
        timed = mod in (Modality.FRAME, Modality.SPEECH, Modality.OCR)
        vals = _smooth(starts, raw, agg.window_s) if mod == Modality.FRAME else raw
        value = _method(vals, agg)
        runs = _runs(starts, ends, np.maximum(vals, raw * (raw >= th.block_at)), items, th.review_at, agg.gap_s) if timed else []
        if timed and agg.min_duration_s > 0 and value >= th.block_at:
            long_enough = any(r[1] - r[0] >= agg.min_duration_s for r in runs if r[2] >= th.block_at)
            instant = agg.instant_block and raw.max() >= th.block_at
            if not long_enough and not instant:
                value = min(value, max(th.review_at, th.block_at - 1e-3))
                reasons.append(f"{mod.value}: shorter than min_duration {agg.min_duration_s}s")
        if agg.instant_block and timed:
            value = max(value, float(raw.max()) if raw.max() >= th.block_at else value)
        per_mod[mod] = value
        mod_runs[mod] = runs if timed else [(None, None, float(v), s) for v, s in sorted(zip(raw, items, strict=True), key=lambda p: -p[0])[:3] if v > 0]

    best_mod = max(per_mod, key=per_mod.__getitem__)
    value = per_mod[best_mod]
    agreeing = [m for m, v in per_mod.items() if m != best_mod and v >= th.review_at and _overlaps(mod_runs[m], mod_runs[best_mod])]
    if agreeing and agg.fusion_boost > 0:
        value = min(1.0, value + agg.fusion_boost * len(agreeing))
        reasons.append(f"{best_mod.value} agrees with {', '.join(m.value for m in agreeing)}")

    segments = [
        Segment(
            start=None if r[0] is None else round(float(r[0]), 3),
            end=None if r[1] is None else round(float(r[1]), 3),
            modality=mod.value, scorer=r[3].scorer, label=r[3].label, score=round(float(r[2]), 4),
            evidence=r[3].evidence,
        )
        for mod, runs in mod_runs.items() for r in runs
        if r[2] >= min(th.review_at, value) or r[0] is None
    ]
    segments.sort(key=lambda s: (-s.score, s.start or 0.0))
    return Aggregated(round(float(value), 4), segments[:20], reasons)


def _overlaps(a: list, b: list) -> bool:
    if not a or not b:
        return False
    if any(r[0] is None for r in a) or any(r[0] is None for r in b):
        return True
    return any(x[0] <= y[1] and y[0] <= x[1] for x in a for y in b)
