"""One flat output record per input: the columns of `decisions.parquet` / `decisions.jsonl`.

    id, uri, user, audience, action, error_type, error_message, policy_hash,
    <category>_score, <category>_action   (one pair per category of the policy),
    decision                             (the full Decision as a JSON string)

A decision always fills every column. An input that failed anywhere (bad media, bad manifest
line, an exception inside the scoring actor) still gets its record: `action: review` with the
error type and message — built through `decide` where possible so it has category columns and
provenance like any other decision, or as a bare error record if even that fails.
Nothing here holds frames, transcripts or OCR text except inside `decision` (the same JSON
`modpipe scan` prints).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from modpipe.types import Decision

BASE_COLUMNS = ("id", "uri", "user", "audience", "action", "error_type", "error_message", "policy_hash")


def schema(categories: list[str]) -> pa.Schema:
    """The Arrow schema of every part and of the consolidated output (fixed per policy)."""
    import pyarrow as pa

    fields = [pa.field(c, pa.string(), nullable=c != "id") for c in BASE_COLUMNS]
    for cat in categories:
        fields += [pa.field(f"{cat}_score", pa.float64()), pa.field(f"{cat}_action", pa.string())]
    fields.append(pa.field("decision", pa.string()))
    return pa.schema(fields)


def decision_row(d: Decision, uri: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": d.id, "uri": uri, "user": d.user, "audience": d.audience, "action": d.action,
        "error_type": d.error.type if d.error else None,
        "error_message": d.error.message if d.error else None,
        "policy_hash": d.provenance.policy_hash,
    }
    for cat, res in d.categories.items():
        row[f"{cat}_score"] = float(res.score)
        row[f"{cat}_action"] = res.action
    row["decision"] = d.model_dump_json()
    return row


def error_row(item: dict[str, Any], exc: BaseException | None = None, *,
              policy_hash: str | None = None, error_type: str | None = None,
              message: str | None = None) -> dict[str, Any]:
    """The last-resort record for an input whose decision could not even be built."""
    return {
        "id": str(item["id"]), "uri": item.get("uri") or "", "user": item.get("user"),
        "audience": item.get("audience"), "action": "review",
        "error_type": error_type or (type(exc).__name__ if exc else "Error"),
        "error_message": message if message is not None else (str(exc) if exc else None),
        "policy_hash": policy_hash, "decision": None,
    }
