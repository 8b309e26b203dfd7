"""JSONL batch gate: one input line `{id, text, user?, audience?, images?}` → one decision line,
in input order; lines are gated in chunks through `Pipeline.gate_many` (real batching).

A bad line (not JSON, no text, unknown audience) becomes an error record with `action: review`
and the run goes on; the caller exits 1 if any line errored.
"""

from __future__ import annotations

import json
from pathlib import Path

from modpipe.errors import InputError, ModpipeError
from modpipe.report import JsonlWriter


def _error_record(pipe, rid: str | None, exc: Exception) -> dict:  # noqa: ANN001
    return {
        "id": rid, "kind": "gate", "action": "review",
        "categories": {}, "reasons": [f"input error: {exc}"],
        "error": {"type": type(exc).__name__, "message": str(exc)},
        "policy_hash": pipe.loaded.hash, "provenance": pipe.provenance.model_dump(),
    }


def gate_jsonl(pipe, path: Path, out: JsonlWriter, *, default_user=None, default_audience=None,  # noqa: ANN001
               chunk: int = 64) -> int:
    """Gate every line of `path` through `Pipeline.gate_many` in chunks (one encoder forward per
    chunk); decisions are written in input order. Returns the number of lines that errored."""
    errors = 0
    try:
        f = path.open(encoding="utf-8", errors="strict")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    pending: list[dict | tuple[str, Exception]] = []  # a request, or (id, error) for a bad line

    def flush() -> None:
        nonlocal errors
        requests = [p for p in pending if isinstance(p, dict)]
        decisions = iter(pipe.gate_many(requests)) if requests else iter(())
        for p in pending:
            if isinstance(p, tuple):
                errors += 1
                out.write(_error_record(pipe, *p))
                continue
            d = next(decisions)
            errors += d.error is not None
            rec = d.model_dump(mode="json")
            rec["policy_hash"] = d.provenance.policy_hash
            out.write(rec)
        pending.clear()

    with f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            rid = str(lineno)
            try:
                item = json.loads(line)
                if not isinstance(item, dict):
                    raise InputError(f"line {lineno}: expected a JSON object")
                rid = str(item.get("id", lineno))
                text = item.get("text")
                if not isinstance(text, str):
                    raise InputError(f"line {lineno}: 'text' must be a string")
                pending.append({"id": rid, "text": text, "user": item.get("user", default_user),
                                "audience": item.get("audience", default_audience),
                                "images": item.get("images", ())})
            except (json.JSONDecodeError, ModpipeError) as exc:
                pending.append((rid, exc))
            if len(pending) >= chunk:
                flush()
        flush()
    return errors
