"""Report: the only stage that writes outputs. JSON lines, written so nothing half-written shows.

`JsonlWriter` appends one decision per line and flushes + fsyncs each line, so a crash loses at
most the line being written, and readers never see a partial record once `close()` ran.
`write_json_atomic` writes a whole file via a temporary file and `os.replace`.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel


def to_json(obj: BaseModel | dict[str, Any], indent: int | None = None) -> str:
    if isinstance(obj, BaseModel):
        return obj.model_dump_json(indent=indent)
    return json.dumps(obj, indent=indent, ensure_ascii=False, default=str)


class JsonlWriter:
    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._f: IO[str] | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = self.path.open("w", encoding="utf-8")

    def write(self, obj: BaseModel | dict[str, Any]) -> None:
        line = to_json(obj)
        if self._f is None:
            print(line, flush=True)
            return
        self._f.write(line + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def decision_schema() -> dict[str, Any]:
    """JSON Schema of the Decision record (the documented contract of gate and scan)."""
    from modpipe.types import Decision

    schema = Decision.model_json_schema()
    schema["$id"] = "https://github.com/modpipe/modpipe/schemas/decision.schema.json"
    schema["title"] = "modpipe Decision"
    return schema
