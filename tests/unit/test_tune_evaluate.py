"""The fast (numpy) re-decision path equals the live decide() path, item for item.

Random cached scores — several prompt variants per item, weights, a top-k method, modality
filters, a crashed scorer, an input error, a disabled scorer, a video item — decided both ways.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from modpipe.policy import parse_policy
from modpipe.tune.cache import Entry
from modpipe.tune.evaluate import CachedSet, decide_all
from modpipe.tune.labels import LabelledItem

POLICY = textwrap.dedent("""
    version: 1
    name: mixed
    audiences: [teen]
    scorers:
      a: {type: lexicon, params: {terms: {x: [x], z: [z]}}}
      b: {type: lexicon, if_unavailable: fallback, params: {terms: {x: [x]}}}
      spare: {type: lexicon, enabled: false, params: {terms: {x: [x]}}}
    categories:
      one:
        signals: [{scorer: a, label: x}, {scorer: b, label: x, weight: 0.7}, {scorer: spare, label: x}]
        review_at: 0.4
        block_at: 0.7
        audiences: {teen: {review_at: 0.3, block_at: 0.5}}
      two:
        signals: [{scorer: a, label: z, modalities: [prompt, speech]}]
        review_at: 0.5
        block_at: 0.9
        aggregate: {method: topk_mean, k: 2}
        on_unavailable: block
      three:
        signals: [{scorer: b, label: x, modalities: [frame]}]
        review_at: 0.2
        block_at: 0.6
""")


def random_cache(n: int, seed: int = 0) -> CachedSet:
    rng = np.random.default_rng(seed)
    items, entries = [], []
    models = {"a": "lexicon:2-terms", "b": "lexicon:1-terms", "spare": "lexicon:1-terms"}
    for i in range(n):
        video = i % 17 == 0
        mods = ["frame", "speech"] if video else ["prompt"]
        scores = []
        for sample in range(int(rng.integers(1, 4))):
            mod = mods[sample % len(mods)]
            for scorer, label in (("a", "x"), ("a", "z"), ("b", "x"), ("spare", "x")):
                v = float(np.round(rng.random(), 3)) if rng.random() < 0.9 else 0.0
                t = float(sample) if video else None
                scores.append({"scorer": scorer, "label": label, "value": v, "sample": sample,
                               "modality": mod, "start": t, "end": None if t is None else t + 1})
        statuses = []
        if i % 11 == 0:
            statuses = [{"scorer": "b", "status": "failed", "message": "boom", "categories": ["one", "three"]}]
        if i % 13 == 0:
            statuses = [{"scorer": "b", "status": "unavailable", "message": "no weights", "categories": []}]
        error = {"type": "TextInputError", "message": "empty"} if i % 29 == 0 else None
        entries.append(Entry(f"h{i}", "fp", "scan" if video else "gate", models, {}, statuses, error,
                             [] if error else scores))
        items.append(LabelledItem(f"i{i}", "scan" if video else "gate", "", frozenset(), None))
    return CachedSet.build(items, entries)


@pytest.mark.parametrize("audience", [None, "teen"])
def test_fast_path_equals_the_live_decide_path(audience):
    cached = random_cache(300)
    lp = parse_policy(POLICY)
    fast = decide_all(cached, lp, audience, fast=True)
    slow = decide_all(cached, lp, audience, fast=False)
    assert np.array_equal(fast.values, slow.values)
    assert np.array_equal(fast.actions, slow.actions)
    assert np.array_equal(fast.overall, slow.overall)
    # the random data reaches every action, fail-closed floors and several-sample top-k means
    assert set(np.unique(fast.actions)) == {0, 1, 2}
