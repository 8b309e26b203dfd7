"""The output folder of a batch: an append-only journal of atomic parts, consolidated at the end.

    DIR/job.json               policy name + hash this folder belongs to (checked on resume)
    DIR/parts/part-*.parquet   the journal; each file appears whole or not at all
    DIR/decisions.parquet      one record per id (rebuilt from the parts at the end of a run)
    DIR/decisions.jsonl        the same, as JSON lines (with --format jsonl|both)
    DIR/summary.json           counts per action / category / error type, and run throughput

A part is written to a hidden temporary file in `parts/`, fsynced, then `os.replace`d to its
final name, so a reader (or a resumed run) only ever sees complete parts. Resume reads the ids of
the complete parts; a kill -9 loses at most the rows not yet in a part, and those are decided
again. Consolidation keeps the first record per id (parts in name order), so even a duplicate
could never reach the final output.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from modpipe.errors import ConfigError
from modpipe.report import write_text_atomic

log = logging.getLogger("modpipe.batch")


class OutputDir:
    def __init__(self, path: str | Path, schema: Any) -> None:
        self.path = Path(path)
        self.parts = self.path / "parts"
        self.schema = schema
        self.parts.mkdir(parents=True, exist_ok=True)
        for stale in self.parts.glob(".part-*.tmp"):  # left by a killed run: never complete
            stale.unlink(missing_ok=True)

    # ------------------------------------------------------------------ the journal

    def claim(self, policy_name: str, policy_hash: str) -> None:
        """Bind the folder to one policy; resuming with another policy would mix decisions."""
        job = self.path / "job.json"
        if job.exists():
            known = json.loads(job.read_text()).get("policy_hash")
            if known != policy_hash:
                raise ConfigError(
                    f"{self.path} holds decisions made with policy {known}; this run uses "
                    f"{policy_hash}", hint="use a new --output folder for a different policy")
            return
        write_text_atomic(job, json.dumps({"policy_name": policy_name, "policy_hash": policy_hash,
                                           "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}) + "\n")

    def part_files(self) -> list[Path]:
        return sorted(self.parts.glob("part-*.parquet"))

    def done_ids(self) -> set[str]:
        import pyarrow.parquet as pq

        done: set[str] = set()
        for part in self.part_files():
            try:
                done.update(pq.read_table(part, columns=["id"]).column("id").to_pylist())
            except Exception as exc:  # noqa: BLE001 - an unreadable part is redone, never trusted
                log.warning("ignoring unreadable part %s: %s", part.name, type(exc).__name__)
        return done

    def write_part(self, rows: list[dict[str, Any]]) -> Path:
        import pyarrow as pa
        import pyarrow.parquet as pq

        name = f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = self.parts / f".{name}.tmp"
        try:
            pq.write_table(pa.Table.from_pylist(rows, schema=self.schema), tmp)
            with tmp.open("rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, self.parts / name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        dfd = os.open(self.parts, os.O_RDONLY)
        try:
            os.fsync(dfd)  # the rename itself survives a power cut
        finally:
            os.close(dfd)
        return self.parts / name

    # ------------------------------------------------------------------ the final output

    def consolidate(self, formats: set[str]) -> dict[str, Any]:
        """Stream the parts into decisions.parquet / .jsonl (first record per id), atomically;
        return the counts for the summary."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        seen: set[str] = set()
        actions: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        categories: dict[str, Counter[str]] = {}
        cats = [f.name[: -len("_action")] for f in self.schema if f.name.endswith("_action")]
        targets = {fmt: self.path / f".decisions.{fmt}.tmp" for fmt in formats}
        writer = pq.ParquetWriter(targets["parquet"], self.schema) if "parquet" in formats else None
        jsonl = targets["jsonl"].open("w", encoding="utf-8") if "jsonl" in formats else None
        try:
            for part in self.part_files():
                try:
                    table = pq.read_table(part).cast(self.schema)
                except Exception as exc:  # noqa: BLE001 - see done_ids
                    log.warning("skipping unreadable part %s: %s", part.name, type(exc).__name__)
                    continue
                keep = []
                for i, rid in enumerate(table.column("id").to_pylist()):
                    if rid not in seen:
                        seen.add(rid)
                        keep.append(i)
                table = table.take(pa.array(keep, pa.int64()))
                for row in table.to_pylist():
                    actions[row["action"]] += 1
                    if row["error_type"]:
                        errors[row["error_type"]] += 1
                    for cat in cats:
                        categories.setdefault(cat, Counter())[row[f"{cat}_action"] or "none"] += 1
                    if jsonl is not None:
                        row["decision"] = json.loads(row["decision"]) if row["decision"] else None
                        jsonl.write(json.dumps(row, ensure_ascii=False) + "\n")
                if writer is not None:
                    writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
            if jsonl is not None:
                jsonl.flush()
                os.fsync(jsonl.fileno())
                jsonl.close()
        for fmt, tmp in targets.items():
            os.replace(tmp, self.path / f"decisions.{fmt}")
        return {"records": len(seen), "actions": dict(actions),
                "categories": {c: dict(v) for c, v in categories.items()}, "errors": dict(errors)}

    def write_summary(self, summary: dict[str, Any]) -> Path:
        out = self.path / "summary.json"
        write_text_atomic(out, json.dumps(summary, indent=2) + "\n")
        return out
