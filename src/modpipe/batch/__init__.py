"""Batch scanning on Ray Data: millions of videos, resumable, exactly one record per input.

    inputs.py   INPUT (folder | glob | JSONL manifest) → BatchItem per input
    stages.py   prepare_row (CPU task, no models) and ScanBatch (actor: load once, pure __call__)
    records.py  the flat output record (decision columns, or a `review` error record)
    store.py    the output folder: atomic parts journal → decisions.parquet/.jsonl + summary.json
    job.py      run_batch: the Ray Data pipeline and the resume logic (design in its docstring)

Ray is imported only inside `run_batch`, so `import modpipe.batch` stays light.
"""

from modpipe.batch.inputs import BatchItem, resolve_inputs
from modpipe.batch.job import run_batch
from modpipe.batch.stages import ScanBatch, prepare_row

__all__ = ["BatchItem", "ScanBatch", "prepare_row", "resolve_inputs", "run_batch"]
