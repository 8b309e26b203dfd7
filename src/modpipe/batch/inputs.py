"""What a batch scans: INPUT (a folder, a glob, or a JSONL manifest) → one `BatchItem` per input.

    folder     every regular, non-hidden file under it (recursive); id = path relative to it
    glob       every file the pattern matches (`**` recurses); id = the path as matched
    manifest   a `.jsonl` file of {"id", "uri", optional "user", "audience"}; id defaults to uri

Only ingest opens the files: here we list names, never read media. A manifest line that cannot
be used (bad JSON, no uri) is still an input: it becomes an item that carries its error, so it
ends as exactly one `review` record like any other failure. Duplicate ids are refused up front
(they would make "one record per id" ambiguous).
"""

from __future__ import annotations

import glob as globlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from modpipe.errors import InputError


@dataclass(frozen=True)
class BatchItem:
    id: str
    uri: str
    user: str | None = None
    audience: str | None = None
    error_type: str | None = None  # set for manifest lines that are unusable as given
    error_message: str | None = None

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


def resolve_inputs(spec: str | Path) -> list[BatchItem]:
    """Expand INPUT into items, in a stable order. Raises InputError when nothing matches."""
    text = str(spec)
    path = Path(text).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*")
                       if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
        items = [BatchItem(id=p.relative_to(path).as_posix(), uri=str(p.resolve())) for p in files]
    elif path.is_file() and path.suffix in (".jsonl", ".ndjson"):
        items = read_manifest(path)
    elif path.is_file():
        items = [BatchItem(id=path.name, uri=str(path.resolve()))]
    elif any(ch in text for ch in "*?["):
        files = sorted(p for p in globlib.glob(text, recursive=True) if Path(p).is_file())
        items = [BatchItem(id=p, uri=str(Path(p).resolve())) for p in files]
    else:
        raise InputError(f"batch input {text!r} is not a folder, a .jsonl manifest, a file or a glob")
    if not items:
        raise InputError(f"batch input {text!r} matched no files")
    _refuse_duplicates(items)
    return items


def read_manifest(path: Path) -> list[BatchItem]:
    items: list[BatchItem] = []
    base = path.parent
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            items.append(_manifest_item(line, lineno, base))
    return items


def _manifest_item(line: str, lineno: int, base: Path) -> BatchItem:
    where = f"line-{lineno}"
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        return BatchItem(id=where, uri="", error_type="InputError",
                         error_message=f"manifest line {lineno} is not JSON: {exc.msg}")
    if not isinstance(rec, dict) or not isinstance(rec.get("uri"), str) or not rec["uri"]:
        rid = str(rec.get("id")) if isinstance(rec, dict) and rec.get("id") is not None else where
        return BatchItem(id=rid, uri="", error_type="InputError",
                         error_message=f"manifest line {lineno} has no \"uri\" string")
    uri = rec["uri"]
    if "://" not in uri and not Path(uri).is_absolute():
        uri = str((base / uri).resolve())  # relative paths are relative to the manifest
    opt = {k: (str(rec[k]) if rec.get(k) is not None else None) for k in ("user", "audience")}
    return BatchItem(id=str(rec.get("id") or rec["uri"]), uri=uri, **opt)


def _refuse_duplicates(items: list[BatchItem]) -> None:
    seen: set[str] = set()
    dups = [i.id for i in items if i.id in seen or seen.add(i.id)]  # type: ignore[func-returns-value]
    if dups:
        shown = ", ".join(repr(d) for d in dups[:5])
        raise InputError(f"batch input has duplicate ids ({len(dups)}): {shown}; ids must be unique")
