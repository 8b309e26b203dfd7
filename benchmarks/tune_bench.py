"""Tuning from the cache: a full report on 10,000 items, without running any model.

    python benchmarks/tune_bench.py [--cache CACHE] [--items 10000]

Takes real cached scores (CACHE from `modpipe tune score`; without it, scores a small sample of
../shared/data/text once with the default policy's real models) and resamples them into a
10,000-item cache. Then times, in one run: loading the Parquet cache, re-deciding every item
(fast numpy path vs the live per-item `decide()` path — the ratio is the number to compare across
machines), and the per-category metrics. Absolute seconds depend on the machine's load.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np

from modpipe.policy import load_policy
from modpipe.tune.cache import ScoreCache
from modpipe.tune.evaluate import CachedSet, decide_all
from modpipe.tune.labels import read_labels
from modpipe.tune.metrics import category_metrics, queue_shares

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "text"


def real_cache(tmp: Path) -> Path:
    from modpipe.pipeline import Pipeline
    from modpipe.tune.score import score_items

    if not DATA.is_dir():
        raise SystemExit(f"no --cache given and no dev data at {DATA}")
    items = [it for f in sorted(DATA.glob("*.jsonl")) for it in read_labels(f)[:12]]
    with Pipeline.from_policy() as pipe:
        run = score_items(pipe, items, ScoreCache(tmp / "real"))
    print(f"scored {run.scored} real dev texts once ({run.seconds:.1f} s) to resample from")
    return tmp / "real"


def resample(src: Path, dst: Path, n: int, seed: int = 0) -> None:
    cache = ScoreCache(src)
    latest = cache.latest()
    pool = [(item, latest[h]) for item, h in cache.items.values() if h in latest]
    rng = np.random.default_rng(seed)
    out = ScoreCache(dst)
    for k, j in enumerate(rng.integers(0, len(pool), n)):
        item, e = pool[j]
        h = f"sha256:synthetic-{k}"
        out.put(dataclasses.replace(e, input_hash=h))
        out.label(dataclasses.replace(item, id=f"{item.id}#{k}"), h)
    out.save()


def timed(fn):  # noqa: ANN001, ANN201
    t = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--policy", type=Path, default=None)
    args = ap.parse_args()
    loaded = load_policy(args.policy)
    with tempfile.TemporaryDirectory() as tmp:
        src = args.cache or real_cache(Path(tmp))
        resample(src, Path(tmp) / "big", args.items)
        import sklearn.metrics  # noqa: F401 - import cost is not part of the report's work

        cached, t_load = timed(lambda: CachedSet.load(ScoreCache(Path(tmp) / "big")))
        fast, t_fast = timed(lambda: decide_all(cached, loaded))
        slow, t_slow = timed(lambda: decide_all(cached, loaded, fast=False))
        _, t_metrics = timed(lambda: (category_metrics(cached, fast), queue_shares(fast)))
    same = np.array_equal(fast.actions, slow.actions) and np.array_equal(fast.values, slow.values)
    total = t_load + t_fast + t_metrics
    print(f"{len(cached)} cached items, policy {loaded.name}; no model runs below")
    print(f"{'step':34s} {'seconds':>8s}")
    print(f"{'load Parquet cache':34s} {t_load:8.3f}")
    print(f"{'re-decide, fast path (numpy)':34s} {t_fast:8.3f}")
    print(f"{'re-decide, live decide() per item':34s} {t_slow:8.3f}")
    print(f"{'metrics (sklearn)':34s} {t_metrics:8.3f}")
    print(f"{'full report (load+fast+metrics)':34s} {total:8.3f}")
    print(f"fast path is {t_slow / t_fast:.1f}× the live path, identical results: {same}")


if __name__ == "__main__":
    main()
