"""`run_batch`: scan many videos as one Ray Data job — resumable, exactly one record per input.

Design (exactly once, kill -9 safe):
1. INPUT → items (`inputs.py`). The output folder is bound to the policy hash (`job.json`).
2. Ids already present in complete parts (`DIR/parts/`) are skipped; the rest form the dataset.
3. Ray Data streams: `from_items` → `map(prepare_row)` (decode + sample as CPU tasks, no models)
   → `map_batches(ScanBatch)` (actors with fractional CPUs, Pipeline loaded once each).
4. The driver consumes the stream and appends records to the journal as atomic parts (every
   `part_rows` records or `part_seconds`), so a kill loses only unwritten rows, redone on resume.
5. At the end the parts are consolidated into `decisions.parquet` (+ `.jsonl`), first record per
   id, and `summary.json` is written. Running again on a finished folder only re-consolidates.

The driver writes every output file, so workers need read access to the inputs only (a shared
filesystem or URIs they can open); modpipe must be importable on every node of a cluster.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from modpipe.batch.inputs import BatchItem, resolve_inputs
from modpipe.batch.records import schema
from modpipe.batch.stages import ScanBatch, prepare_row
from modpipe.batch.store import OutputDir
from modpipe.policy import LoadedPolicy, load_policy
from modpipe.settings import Settings, get_settings

log = logging.getLogger("modpipe.batch")

# Fractional CPUs: an actor holding a whole CPU beside the decode tasks waits forever on a
# 2-core machine, and on 1-CPU nodes a half-CPU actor would leave no room for a 1-CPU task.
ACTOR_CPUS = 0.5
PREPARE_CPUS = 0.5
# Input blocks of `batch_size` rows (decode tasks start as soon as there is work), but no more
# blocks than this for huge inputs. Decoded frames are full size: Ray Data's streaming
# backpressure and block splitting (target_max_block_size) keep them bounded in the object store.
MAX_INPUT_BLOCKS = 1000


def run_batch(inputs: str | Path | list[BatchItem], output: str | Path, *, address: str | None = None,
              concurrency: int = 1, batch_size: int = 4, policy: str | Path | LoadedPolicy | None = None,
              formats: set[str] = frozenset({"parquet"}), part_rows: int = 256, part_seconds: float = 30.0,
              settings: Settings | None = None, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) a batch; return the summary (also written to DIR/summary.json)."""
    t_start = time.perf_counter()
    settings = settings or get_settings()
    loaded = policy if isinstance(policy, LoadedPolicy) else load_policy(policy or settings.policy)
    items = inputs if isinstance(inputs, list) else resolve_inputs(inputs)
    out = OutputDir(output, schema(list(loaded.policy.categories)))
    out.claim(loaded.name, loaded.hash)
    done = out.done_ids()
    pending = [i.as_row() for i in items if i.id not in done]
    log.info("batch: %d inputs, %d already decided, %d to do", len(items), len(items) - len(pending), len(pending))
    t_run = time.perf_counter()
    if pending:
        _run_ray(pending, out, address=address, concurrency=concurrency, batch_size=batch_size,
                 loaded=loaded, settings=settings, part_rows=part_rows, part_seconds=part_seconds,
                 progress=progress)
    elapsed = time.perf_counter() - t_run
    counts = out.consolidate(set(formats))
    summary = {
        **counts, "inputs": len(items), "skipped": len(items) - len(pending), "decided": len(pending),
        "missing": len({i.id for i in items} - out.done_ids()),
        "seconds": round(elapsed, 3), "seconds_total": round(time.perf_counter() - t_start, 3),
        "videos_per_s": round(len(pending) / elapsed, 3) if pending and elapsed > 0 else None,
        "policy": loaded.name, "policy_hash": loaded.hash, "output": str(out.path),
    }
    out.write_summary(summary)
    return summary


def _run_ray(pending: list[dict[str, Any]], out: OutputDir, *, address: str | None, concurrency: int,
             batch_size: int, loaded: LoadedPolicy, settings: Settings, part_rows: int,
             part_seconds: float, progress: bool) -> None:
    import json

    import ray
    from tqdm import tqdm

    started = _init_ray(ray, address)
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # one bar (ours, below) instead of one per operator
        ctx.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        blocks = max(1, min(MAX_INPUT_BLOCKS, -(-len(pending) // batch_size)))
        ds = ray.data.from_items(pending, override_num_blocks=blocks)
        ds = ds.map(prepare_row, fn_kwargs={"policy": loaded, "settings": settings}, num_cpus=PREPARE_CPUS)
        ds = ds.map_batches(ScanBatch, fn_constructor_kwargs={"policy": loaded, "settings": settings},
                            batch_size=batch_size, num_cpus=ACTOR_CPUS,
                            compute=ray.data.ActorPoolStrategy(size=max(1, concurrency)),
                            batch_format="numpy")
        buf: list[dict[str, Any]] = []
        last = time.monotonic()
        with tqdm(total=len(pending), unit="video", disable=not progress, desc="modpipe batch") as bar:
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=1):
                rows = [json.loads(r) for r in batch["record"]]
                buf.extend(rows)
                bar.update(len(rows))
                if len(buf) >= part_rows or time.monotonic() - last >= part_seconds:
                    out.write_part(buf)
                    buf, last = [], time.monotonic()
        if buf:
            out.write_part(buf)
    finally:
        if started:
            ray.shutdown()


def _init_ray(ray: Any, address: str | None) -> bool:
    """Connect to `address` (auto | HOST:PORT | ray://HOST:PORT) or start a quiet local Ray.
    Returns True when this call started/connected Ray (and so should shut it down)."""
    if ray.is_initialized():
        return False
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
    if address:
        ray.init(address=address, **quiet)
    else:
        # address="local": always a fresh local instance, never a stale cluster left in /tmp/ray
        ray.init(address="local", num_cpus=len(os.sched_getaffinity(0)), include_dashboard=False,
                 **quiet)
    return True
