"""JSONL batch gate: one input line `{id, text, user?, audience?}` → one output decision line.

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


def gate_jsonl(pipe, path: Path, out: JsonlWriter, *, default_user=None, default_audience=None) -> int:  # noqa: ANN001
    errors = 0
    try:
        f = path.open(encoding="utf-8", errors="strict")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    with f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            rid = None
            try:
                item = json.loads(line)
                if not isinstance(item, dict):
                    raise InputError(f"line {lineno}: expected a JSON object")
                rid = str(item.get("id", lineno))
                text = item.get("text")
                if not isinstance(text, str):
                    raise InputError(f"line {lineno}: 'text' must be a string")
                d = pipe.gate(text, user=item.get("user", default_user),
                              audience=item.get("audience", default_audience), id=rid)
                rec = d.model_dump(mode="json")
                rec["policy_hash"] = d.provenance.policy_hash
                out.write(rec)
            except (json.JSONDecodeError, ModpipeError) as exc:
                errors += 1
                out.write(_error_record(pipe, rid or str(lineno), exc))
    return errors
