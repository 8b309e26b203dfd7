"""Report: write decisions (JSON, JSONL) and export the decision JSON Schema."""

from modpipe.report.writers import (
    JsonlWriter, decision_schema, to_json, write_bytes_atomic, write_text_atomic,
)

__all__ = ["JsonlWriter", "decision_schema", "to_json", "write_bytes_atomic", "write_text_atomic"]
