"""Re-decide cached scores under any policy, with the live pipeline's own aggregate/decide code.

`CachedSet.load(cache)` flattens a score cache into arrays once; `decide_all(cached, policy)`
returns every item's category scores and actions and its overall action, as the live `Pipeline`
would decide them (no consent; raw scores as cached):

- the **slow path** calls `modpipe.decide.decide` per item — the exact live code, one pydantic
  `Decision` per item; used for videos, reference images and anything with a time axis;
- the **fast path** handles prompt-only items (no time axis) in numpy: per category, the
  signal-weighted best score per sample, then the category's method over samples, rounded like
  `aggregate` — and takes each fail-closed floor from `decide_category` itself. Where a category
  needs more than `max` over several samples it falls back to `aggregate` for those items.
  `tests/unit/test_tune_evaluate.py` proves both paths give identical results.

Scores of scorers the policy does not enable are ignored (the live pipeline would not run them);
an enabled scorer with no cached scores is treated as unavailable (fail closed) and warned about.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from modpipe import __version__
from modpipe.aggregate import Aggregated, aggregate
from modpipe.decide import decide, decide_category
from modpipe.policy import LoadedPolicy
from modpipe.policy.schema import Thresholds
from modpipe.tune.cache import Entry, ScoreCache, params_digest
from modpipe.tune.labels import LabelledItem
from modpipe.types import ACTION_RANK, ErrorInfo, Modality, Provenance, Score, ScorerStatus

ACTIONS = ("allow", "review", "block")


@dataclass
class CachedSet:
    """Labelled items joined to their latest cached entry, with all scores as flat arrays."""

    items: list[LabelledItem]
    entries: list[Entry]
    unscored: int  # labelled items with no cached entry (not counted anywhere else)
    row_item: np.ndarray = field(repr=False)  # int, one per score row
    pair: np.ndarray = field(repr=False)  # int code of (scorer, label), see `pairs`
    value: np.ndarray = field(repr=False)  # float64
    sample: np.ndarray = field(repr=False)
    pairs: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, cache: ScoreCache) -> CachedSet:
        latest = cache.latest()
        items, entries = [], []
        for item, h in cache.items.values():
            if h in latest:
                items.append(item)
                entries.append(latest[h])
        return cls.build(items, entries, unscored=len(cache.items) - len(items))

    @classmethod
    def build(cls, items: list[LabelledItem], entries: list[Entry], unscored: int = 0) -> CachedSet:
        counts = np.array([len(e.scores) for e in entries], dtype=np.int64)
        rows = [s for e in entries for s in e.scores]
        pairs: dict[tuple[str, str], int] = {}
        codes = [pairs.setdefault((s["scorer"], s["label"]), len(pairs)) for s in rows]
        return cls(items, entries, unscored,
                   row_item=np.repeat(np.arange(len(entries)), counts),
                   pair=np.array(codes, dtype=np.int64),
                   value=np.array([s["value"] for s in rows], dtype=np.float64),
                   sample=np.array([s["sample"] for s in rows], dtype=np.int64), pairs=pairs)

    def subset(self, mask: np.ndarray) -> CachedSet:
        keep = np.flatnonzero(mask)
        return CachedSet.build([self.items[i] for i in keep], [self.entries[i] for i in keep], self.unscored)

    def __len__(self) -> int:
        return len(self.items)

    def scores(self, i: int, scorers: set[str]) -> list[Score]:
        return [Score(s["scorer"], s["label"], s["value"], s["sample"], Modality(s["modality"]),
                      s["start"], s["end"]) for s in self.entries[i].scores if s["scorer"] in scorers]


@dataclass
class Outcome:
    categories: list[str]
    values: np.ndarray  # items × categories, the aggregated category score
    actions: np.ndarray  # items × categories, 0 allow / 1 review / 2 block
    overall: np.ndarray  # items, 0 / 1 / 2
    warnings: list[str]


def _statuses(cached: CachedSet, loaded: LoadedPolicy) -> tuple[list[dict[str, ScorerStatus]], list[str]]:
    """Per item, the scorer statuses the live pipeline for this policy would report."""
    pol = loaded.policy
    enabled = [n for n, s in pol.scorers.items() if s.enabled]
    digests = {n: params_digest(loaded, n) for n in enabled}
    cats_of = {n: [c for c, cat in pol.categories.items() if any(s.scorer == n for s in cat.signals)]
               for n in enabled}
    warnings: set[str] = set()
    out: list[dict[str, ScorerStatus]] = []
    memo: dict[int, dict[str, ScorerStatus]] = {}  # few distinct status sets: build each once
    for e in cached.entries:
        key = hash((tuple(sorted(e.models.items())), tuple(sorted(e.params.items())), str(e.statuses)))
        if key not in memo:
            st = {d["scorer"]: ScorerStatus(**d) for d in e.statuses
                  if d["scorer"] in digests or d["status"] == "unread"}  # unread: the prompt's language
            for n in enabled:
                if n not in e.models:
                    st[n] = ScorerStatus(scorer=n, status="unavailable", categories=cats_of[n],
                                         message="no cached scores for this scorer")
                    warnings.add(f"scorer {n!r} has no cached scores for some items: they fail closed; "
                                 "run `modpipe tune score` with this policy")
                elif e.params.get(n) != digests[n]:
                    warnings.add(f"scorer {n!r} was cached with different params (exemplars, heads…) "
                                 "than this policy: its scores reflect the cached params; "
                                 "run `modpipe tune score --policy` with this policy to re-score")
            memo[key] = st
        out.append(memo[key])
    return out, sorted(warnings)


def _provenance(loaded: LoadedPolicy, e: Entry) -> Provenance:
    return Provenance(modpipe_version=__version__, policy_name=loaded.name, policy_hash=loaded.hash,
                      models={k: v for k, v in e.models.items() if v != "unavailable"})


def decide_one(cached: CachedSet, i: int, loaded: LoadedPolicy, statuses: dict[str, ScorerStatus],
               audience: str | None = None):  # noqa: ANN201 - Decision
    """The live decision for cached item i under `loaded` (the slow, exact path)."""
    e = cached.entries[i]
    enabled = {n for n, s in loaded.policy.scorers.items() if s.enabled}
    err = ErrorInfo(**e.error) if e.error else None
    return decide(loaded.policy, _provenance(loaded, e), e.kind, cached.scores(i, enabled), statuses,
                  audience, error=err, id=cached.items[i].id)


def decide_all(cached: CachedSet, loaded: LoadedPolicy, audience: str | None = None,
               fast: bool = True) -> Outcome:
    pol = loaded.policy
    cats = list(pol.categories)
    n, C = len(cached), len(cats)
    values = np.zeros((n, C))
    actions = np.zeros((n, C), dtype=np.int8)
    overall = np.zeros(n, dtype=np.int8)
    statuses, warnings = _statuses(cached, loaded)
    prompt_only = np.array([e.kind == "gate" and all(s["modality"] == "prompt" for s in e.scores)
                            for e in cached.entries], dtype=bool)
    if not fast:
        prompt_only[:] = False
    slow = np.flatnonzero(~prompt_only)
    for i in slow:
        d = decide_one(cached, int(i), loaded, statuses[i], audience)
        for j, c in enumerate(cats):
            values[i, j] = d.categories[c].score
            actions[i, j] = ACTION_RANK[d.categories[c].action]
        overall[i] = ACTION_RANK[d.action]
    fast_idx = np.flatnonzero(prompt_only)
    if len(fast_idx):
        _fast(cached, loaded, audience, statuses, fast_idx, cats, values, actions, overall)
    return Outcome(cats, values, actions, overall, warnings)


def _fast(cached, loaded, audience, statuses, idx, cats, values, actions, overall) -> None:  # noqa: ANN001
    pol = loaded.policy
    enabled = {n for n, s in pol.scorers.items() if s.enabled}
    on = np.zeros(len(cached), dtype=bool)
    on[idx] = True
    rows = on[cached.row_item]
    width = int(cached.sample.max()) + 1 if len(cached.sample) else 1
    floor_memo: dict[tuple, int] = {}
    for j, cname in enumerate(cats):
        cat = pol.categories[cname]
        th = cat.thresholds(audience)
        keys, vals = [], []
        for sig in cat.signals:
            if sig.scorer not in enabled:
                continue
            if sig.modalities is not None and Modality.PROMPT not in sig.modalities:
                continue
            code = cached.pairs.get((sig.scorer, sig.label))
            if code is None:
                continue
            m = rows & (cached.pair == code)
            v = cached.value[m]
            keys.append(cached.row_item[m] * width + cached.sample[m])
            vals.append(np.minimum(1.0, v * sig.weight) if sig.weight != 1.0 else v)
        val = np.zeros(len(cached))
        if keys:
            k, v = np.concatenate(keys), np.concatenate(vals)
            uk, inv = np.unique(k, return_inverse=True)
            per_sample = np.zeros(len(uk))
            np.maximum.at(per_sample, inv, v)
            owner = uk // width
            np.maximum.at(val, owner, per_sample)
            if cat.aggregate.method != "max":  # topk_mean / k_of_n differ from max only with >1 sample
                for i in np.flatnonzero(np.bincount(owner, minlength=len(cached)) > 1):
                    scores = cached.scores(int(i), enabled)
                    val[i] = aggregate(cat, th, scores).value
        for i in idx:
            values[i, j] = round(float(val[i]), 4)
        v = values[idx, j]
        act = np.where(v >= th.block_at, 2, np.where(v >= th.review_at, 1, 0))
        for pos, i in enumerate(idx):
            st = statuses[i]
            if st:
                key = (cname, tuple(sorted((n, s.status) for n, s in st.items())))
                if key not in floor_memo:
                    never = Thresholds(review_at=1.0, block_at=1.0)
                    floor = decide_category(cname, cat, never, Aggregated(0.0, [], []), pol, st)
                    floor_memo[key] = ACTION_RANK[floor.action]
                act[pos] = max(act[pos], floor_memo[key])
        actions[idx, j] = act
    ov = actions[idx].max(axis=1) if cats else np.zeros(len(idx), dtype=np.int8)
    errs = np.array([cached.entries[i].error is not None for i in idx], dtype=bool)
    overall[idx] = np.where(errs, np.maximum(ov, 1), ov)
