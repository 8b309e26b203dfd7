"""Aggregate one category's scores over time (seconds, from timestamps) and across modalities.

The category's signals are picked out and weighted; then each modality is a **track**: one
value per sample (the best signal), ordered by start time. Per track, in this order:

1. **smoothing** — frames only: a centred moving average over `window_s` seconds, so one noisy
   frame does not decide alone (text spans are already whole units and are not smoothed);
2. **method** — `max` of the track, `topk_mean` (mean of the k highest) or `k_of_n` (the k-th
   highest value within any n consecutive samples: k of n must agree);
3. **segments** — runs of samples at or over `review_at`, samples closer than `gap_s` joined,
   each with its start/end seconds and its best sample's evidence;
4. **minimum duration** — if no block-level run lasts `min_duration_s`, the track counts only
   up to just below `block_at` (review) …
5. **instant block** — … unless `instant_block` and one raw sample reaches `block_at`: a single
   flashed frame or line of clearly harmful content still blocks.

**Fusion**: the category's value is the best track's, plus `fusion_boost` for each other
modality that also reaches `review_at` on an overlapping time span (speech, on-screen text and
frames agreeing raise confidence). Prompts (no timestamps) are a track without time: its top
samples are the segments.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import numpy as np

from modpipe.policy.schema import Aggregate, Category, Thresholds
from modpipe.types import Modality, Score, Segment

TIMED = frozenset({Modality.FRAME, Modality.SPEECH, Modality.OCR})
_NO_TIME = np.zeros(0)


@dataclass(frozen=True)
class Aggregated:
    """A category's value and reasons; its evidence segments are built only when asked for
    (a decision keeps them for non-allow categories only, so most prompts never build any)."""

    value: float
    reasons: list[str]
    tracks: list[Track] = field(default_factory=list)
    deferred: tuple | None = None  # (category, thresholds, index): tracks not built yet (fast path)

    @cached_property  # built once, on first access (works on a frozen dataclass: it sets __dict__)
    def segments(self) -> list[Segment]:
        if self.deferred is not None:  # e.g. a category held for review because a scorer failed
            return aggregate(*self.deferred, fast=False).segments
        segments = [
            Segment(start=None if r.start is None else round(r.start, 3),
                    end=None if r.end is None else round(r.end, 3),
                    modality=t.modality.value, scorer=r.best.scorer, label=r.best.label,
                    score=round(r.peak, 4), evidence=r.best.evidence)
            for t in self.tracks for r in t.runs
        ]
        segments.sort(key=lambda s: (-s.score, s.start or 0.0))
        return segments[:20]


class Run(NamedTuple):  # a tuple: a prompt decision builds up to 3 per category, so creation cost counts
    """A stretch of a track at or over review_at: [start, end] seconds, its peak and best score."""

    start: float | None
    end: float | None
    peak: float
    best: Score

    @property
    def duration(self) -> float:
        return 0.0 if self.start is None else self.end - self.start


@dataclass
class Track:
    """One modality's samples in time order: start/end seconds, raw value, the best Score."""

    modality: Modality
    starts: np.ndarray
    ends: np.ndarray
    raw: np.ndarray | list[float]  # a list for untimed tracks (prompts): never smoothed
    best: list[Score]
    value: float = 0.0
    runs: list[Run] = field(default_factory=list)


def index_scores(scores: list[Score]) -> dict[tuple[str, str], list[Score]]:
    """(scorer, label) → its scores: build once per decision, share across categories."""
    index: dict[tuple[str, str], list[Score]] = defaultdict(list)
    for s in scores:
        index[(s.scorer, s.label)].append(s)
    return index


def signal_scores(cat: Category, scores: list[Score] | dict[tuple[str, str], list[Score]]) -> list[Score]:
    """The scores this category listens to, weighted, filtered by each signal's modalities.
    `scores` may be a list or the `index_scores` of one."""
    index = scores if isinstance(scores, dict) else index_scores(scores)
    out = []
    for sig in cat.signals:
        mods = sig.modality_set
        for s in index.get((sig.scorer, sig.label), ()):
            if mods is None or s.modality in mods:
                out.append(s.with_value(sig.weighted(s.value)) if sig.weight != 1.0 else s)
    return out


def build_track(modality: Modality, scores: list[Score]) -> Track:
    best: dict[int, Score] = {}
    for s in scores:
        if s.sample not in best or s.value > best[s.sample].value:
            best[s.sample] = s
    if modality not in TIMED:  # prompts: no time axis, so no start/end arrays
        items = sorted(best.values(), key=lambda s: s.sample) if len(best) > 1 else list(best.values())
        return Track(modality, _NO_TIME, _NO_TIME, [s.value for s in items], items)
    items = sorted(best.values(), key=lambda s: (s.start or 0.0, s.sample))
    starts = np.array([s.start or 0.0 for s in items])
    ends = np.array([s.end if s.end is not None else (s.start or 0.0) for s in items])
    return Track(modality, starts, ends, np.array([s.value for s in items]), items)


def smooth(starts: np.ndarray, values: np.ndarray, window_s: float) -> np.ndarray:
    """Centred moving average over `window_s` seconds (by timestamp, not sample count)."""
    if window_s <= 0 or len(values) < 2:
        return values
    return np.array([values[np.abs(starts - t) <= window_s / 2].mean() for t in starts])


def method_value(values: np.ndarray | list[float], agg: Aggregate) -> float:
    """The track's value by `agg.method`, in plain Python: tracks are short (a prompt's variants,
    at most a few hundred frames), where numpy's per-call overhead costs more than the work."""
    vals = values.tolist() if isinstance(values, np.ndarray) else list(values)
    if not vals:
        return 0.0
    if agg.method == "max":
        return float(max(vals))
    if agg.method == "topk_mean":
        top = sorted(vals, reverse=True)[: agg.k]
        return float(sum(top) / len(top))
    n = min(agg.n, len(vals))
    k = min(agg.k, n)
    return float(max(sorted(vals[i : i + n], reverse=True)[k - 1] for i in range(len(vals) - n + 1)))


def find_runs(track: Track, values: np.ndarray, level: float, gap_s: float) -> list[Run]:
    runs: list[Run] = []
    for t0, t1, v, s in zip(track.starts, track.ends, values, track.best, strict=True):
        if v < level:
            continue
        if runs and t0 - runs[-1].end <= gap_s:
            r = runs[-1]
            peak, best = (v, s) if v > r.peak else (r.peak, r.best)
            runs[-1] = Run(r.start, max(r.end, t1), peak, best)
        else:
            runs.append(Run(float(t0), float(t1), float(v), s))
    return runs


def score_track(track: Track, agg: Aggregate, th: Thresholds) -> list[str]:
    """Steps 1–5 for one track; sets track.value and track.runs, returns reasons."""
    if track.modality not in TIMED:  # prompts: no time, the top samples are the evidence
        ranked = sorted(track.best, key=lambda s: -s.value) if len(track.best) > 1 else track.best
        track.value = method_value(track.raw, agg)
        track.runs = [Run(None, None, s.value, s) for s in ranked[:3] if s.value > 0]
        return []
    vals = smooth(track.starts, track.raw, agg.window_s) if track.modality == Modality.FRAME else track.raw
    flashes = agg.instant_block and track.raw.max() >= th.block_at
    # a raw sample at block level is kept at full height in the runs, even after smoothing
    run_vals = np.maximum(vals, np.where(track.raw >= th.block_at, track.raw, 0.0))
    track.value = method_value(vals, agg)
    track.runs = find_runs(track, run_vals, th.review_at, agg.gap_s)
    reasons = []
    if flashes:
        track.value = max(track.value, float(track.raw.max()))
        if all(r.duration < agg.min_duration_s for r in track.runs if r.peak >= th.block_at):
            reasons.append(f"{track.modality.value}: brief content at block level (instant_block)")
    elif agg.min_duration_s > 0 and track.value >= th.block_at:
        if not any(r.duration >= agg.min_duration_s for r in track.runs if r.peak >= th.block_at):
            track.value = min(track.value, max(th.review_at, th.block_at - 1e-3))
            reasons.append(f"{track.modality.value}: shorter than min_duration {agg.min_duration_s}s")
    return reasons


def overlaps(a: list[Run], b: list[Run]) -> bool:
    if not a or not b:
        return False
    if any(r.start is None for r in a + b):
        return True
    return any(x.start <= y.end and y.start <= x.end for x in a for y in b)


def untimed_max(cat: Category, index: dict[tuple[str, str], list[Score]]) -> float | None:
    """The highest weighted signal score when every one is untimed (a prompt's variants,
    reference images), else None: one pass with no tracks, for `aggregate`'s fast path."""
    best = 0.0
    for key, mods, weight in cat.signal_keys:
        for s in index.get(key, ()):
            if mods is not None and s.modality not in mods:
                continue
            if s.modality in TIMED:
                return None
            v = s.value * weight
            if v > best:
                best = v
    return best


def aggregate(cat: Category, th: Thresholds,
              scores: list[Score] | dict[tuple[str, str], list[Score]], *, fast: bool = True) -> Aggregated:
    agg = cat.aggregate
    if fast and agg.method == "max" and isinstance(scores, dict):
        # untimed and under review_at (most categories of most prompts): the value is the top
        # score and no track reaches review_at (no fusion, no reason); tracks wait until asked
        top = untimed_max(cat, scores)
        if top is not None and top < th.review_at:
            return Aggregated(round(float(top), 4), [], deferred=(cat, th, scores))
    by_mod: dict[Modality, list[Score]] = defaultdict(list)
    for s in signal_scores(cat, scores):
        by_mod[s.modality].append(s)
    if not by_mod:
        return Aggregated(0.0, [])
    tracks = [build_track(mod, ss) for mod, ss in by_mod.items()]
    reasons = [r for t in tracks for r in score_track(t, agg, th)]

    lead = max(tracks, key=lambda t: t.value)
    value = lead.value
    agreeing = [t.modality.value for t in tracks if t is not lead and t.value >= th.review_at
                and lead.value >= th.review_at and overlaps(t.runs, lead.runs)]
    if agreeing and agg.fusion_boost > 0:
        value = min(1.0, value + agg.fusion_boost * len(agreeing))
        reasons.append(f"{lead.modality.value} agrees with {', '.join(agreeing)} (fusion +{agg.fusion_boost * len(agreeing):.2f})")
    return Aggregated(round(float(value), 4), reasons, tracks)
