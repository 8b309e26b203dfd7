"""The two per-video stages a batch runs on Ray, as plain Python (testable without a cluster).

    prepare_row(row, policy)     CPU task: ingest + sample via `Pipeline.prepare_scan` on a
                                 model-free preparer → the row plus `prepared` (pickled ScanInput)
    ScanBatch(policy)(batch)     actor: loads the Pipeline (models) once in `__init__`; `__call__`
                                 runs `Pipeline.finish_scan` per video → one flat record per row

Frames travel between the two as a pickled `ScanInput` in a binary column (pickle protocol 5
writes numpy frames as raw buffers, no per-pixel conversion). Both stages catch per item: an
exception for one video becomes that video's `review` error record, never a lost row or a
stopped job. Nothing is logged but ids and error types.
"""

from __future__ import annotations

import json
import logging
import pickle
from typing import TYPE_CHECKING, Any

import numpy as np

from modpipe.batch.records import decision_row, error_row
from modpipe.types import ErrorInfo, ScanInput

if TYPE_CHECKING:
    from modpipe.pipeline import Pipeline
    from modpipe.policy import LoadedPolicy
    from modpipe.settings import Settings

log = logging.getLogger("modpipe.batch")

ITEM_KEYS = ("id", "uri", "user", "audience")


_PREPARERS: dict[str, Pipeline] = {}  # per worker process, keyed by policy hash


def _preparer(policy: LoadedPolicy, settings: Settings | None) -> Pipeline:
    from modpipe.pipeline import Pipeline

    if policy.hash not in _PREPARERS:
        _PREPARERS[policy.hash] = Pipeline(policy, settings, models=False)
    return _PREPARERS[policy.hash]


def prepare_row(row: dict[str, Any], policy: LoadedPolicy, settings: Settings | None = None) -> dict[str, Any]:
    """ingest + sample one input (no models). Always returns a row with `prepared` set."""
    item = {k: row.get(k) for k in ITEM_KEYS}
    rid, uri = str(item["id"]), item["uri"] or ""
    if row.get("error_type"):  # an unusable manifest line: carried through as its error
        prepared = ScanInput(id=rid, input=uri,
                             error=ErrorInfo(type=row["error_type"], message=row.get("error_message") or ""))
    else:
        try:
            prepared = _preparer(policy, settings).prepare_scan(uri, id=rid)
        except Exception as exc:  # noqa: BLE001 - prepare_scan captures media errors; this is the rest
            log.error("batch prepare id=%s failed: %s", rid, type(exc).__name__)
            prepared = ScanInput(id=rid, input=uri, error=ErrorInfo(type=type(exc).__name__, message=str(exc)))
    return {**item, "prepared": pickle.dumps(prepared, protocol=5)}


class ScanBatch:
    """Callable class for `Dataset.map_batches`: models load once per actor, `__call__` is pure.

    Input columns: id, uri, user, audience, prepared. Output: `id` and `record` (the flat output
    row as JSON), one per input row, in order.
    """

    def __init__(self, policy: LoadedPolicy, settings: Settings | None = None) -> None:
        from modpipe.pipeline import Pipeline

        self.pipeline = Pipeline(policy, settings)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        ids = [str(i) for i in batch["id"]]
        records = []
        for n, rid in enumerate(ids):
            item = {k: _plain(batch[k][n]) if k in batch else None for k in ITEM_KEYS}
            records.append(json.dumps(self.decide_one(item, batch["prepared"][n])))
        return {"id": ids, "record": records}

    def decide_one(self, item: dict[str, Any], blob: bytes) -> dict[str, Any]:
        pipe = self.pipeline
        try:
            prepared: ScanInput = pickle.loads(blob)
            d = pipe.finish_scan(prepared, user=item["user"], audience=item["audience"])
            return decision_row(d, item["uri"] or "")
        except Exception as exc:  # noqa: BLE001 - one video's failure is its own review record
            log.error("batch scan id=%s failed: %s", item["id"], type(exc).__name__)
            err = ErrorInfo(type=type(exc).__name__, message=str(exc))
        try:  # fail closed through decide, so the record has categories and provenance
            d = pipe.decide("scan", [], dict(pipe.unavailable), None, error=err, id=str(item["id"]),
                            input=item["uri"], user=item["user"])
            return {**decision_row(d, item["uri"] or ""), "audience": item["audience"]}
        except Exception:  # noqa: BLE001
            return error_row(item, policy_hash=pipe.loaded.hash, error_type=err.type, message=err.message)


def _plain(v: Any) -> Any:
    """numpy scalars / NaN from Ray's column batches → str or None."""
    if v is None or (isinstance(v, (float, np.floating)) and np.isnan(v)):
        return None
    return str(v)
