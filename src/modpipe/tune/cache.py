"""The score cache: raw scores of labelled items, in Parquet, so tuning never re-runs a model.

A cache is a folder with two tables, each written atomically (temp file + fsync + rename, so a
killed run leaves the previous complete file, never a torn one):

- `entries.parquet` — one row per (input hash, scorer fingerprint): every raw `Score` of the
  input (scorer, label, value, sample, modality, start, end; no evidence, so no matched text),
  the scorer statuses and any input error. The **input hash** is sha256 of the prompt text or of
  the video file's bytes; the **fingerprint** covers each scorer's type, model id and params, so
  a new model, new heads or new exemplars all miss the cache and are scored again. Each entry
  also records a digest of what the scorers were given (`prep`: the normalised prompt variants,
  or the policy's sampling/extraction settings for a video), so a change in prompt
  normalisation or frame sampling re-scores too.
- `items.parquet` — the labelled items (id, kind, input, labels, scope, input hash). Relabelling
  rewrites this table without re-scoring; items of every `tune score` run into one cache
  accumulate (a later run replaces an id's labels).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modpipe.assets import file_sha256
from modpipe.errors import InputError
from modpipe.tune.labels import LabelledItem

SCORE_FIELDS = ("scorer", "label", "value", "sample", "modality", "start", "end")


def sha256_text(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path: str | Path) -> str:
    try:
        return "sha256:" + file_sha256(path)
    except OSError as exc:
        raise InputError(f"cannot read video {path}: {exc}") from None


def params_digest(loaded, scorer: str) -> str:  # noqa: ANN001 - LoadedPolicy
    """type + validated params of one scorer (computable without loading any model)."""
    spec = loaded.policy.scorers[scorer]
    blob = json.dumps({"type": spec.type, "params": loaded.params[scorer].model_dump(mode="json")},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def fingerprint(models: dict[str, str], params: dict[str, str]) -> str:
    blob = json.dumps({"models": models, "params": params}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


@dataclass
class Entry:
    input_hash: str
    fingerprint: str
    kind: str
    models: dict[str, str]  # scorer → model id ("unavailable" when it could not load)
    params: dict[str, str]  # scorer → params digest
    statuses: list[dict[str, Any]]  # ScorerStatus dumps
    error: dict[str, str] | None
    scores: list[dict[str, Any]]  # SCORE_FIELDS each
    prep: str = ""  # digest of the samples' preparation (prompt variants / sampling settings)
    scored_at: float = field(default_factory=time.time)


def _write_atomic(table, path: Path) -> None:  # noqa: ANN001 - pyarrow.Table
    import pyarrow as pa
    import pyarrow.parquet as pq

    from modpipe.report import write_bytes_atomic

    buf = pa.BufferOutputStream()
    pq.write_table(table, buf, compression="zstd")
    write_bytes_atomic(path, buf.getvalue().to_pybytes())


class ScoreCache:
    """Load-modify-save handle on a cache folder (created on first save)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise InputError(f"cache {self.path} exists and is not a folder")
        self.entries: dict[tuple[str, str], Entry] = {}
        self.items: dict[str, tuple[LabelledItem, str]] = {}  # id → (item, input hash)
        self._load()

    # ---------------------------------------------------------------- read
    def _load(self) -> None:
        import pyarrow.parquet as pq

        ep, ip = self.path / "entries.parquet", self.path / "items.parquet"
        try:
            if ep.is_file():
                for r in pq.read_table(ep).to_pylist():
                    e = Entry(r["input_hash"], r["fingerprint"], r["kind"], json.loads(r["models"]),
                              json.loads(r["params"]), json.loads(r["statuses"]),
                              json.loads(r["error"]) if r["error"] else None, r["scores"], r.get("prep", ""),
                              r["scored_at"])
                    self.entries[(e.input_hash, e.fingerprint)] = e
            if ip.is_file():
                for r in pq.read_table(ip).to_pylist():
                    item = LabelledItem(r["id"], r["kind"], r["input"], frozenset(r["labels"]),
                                        None if r["scope"] is None else frozenset(r["scope"]))
                    self.items[item.id] = (item, r["input_hash"])
        except (OSError, KeyError, ValueError) as exc:  # pyarrow errors subclass these
            raise InputError(f"cache {self.path} is unreadable: {exc}",
                             hint="delete it and run `modpipe tune score` again") from None

    def has(self, input_hash: str, fp: str, prep: str = "") -> bool:
        e = self.entries.get((input_hash, fp))
        return e is not None and e.prep == prep

    def latest(self) -> dict[str, Entry]:
        """input hash → its most recently scored entry (what report / thresholds / diff use)."""
        out: dict[str, Entry] = {}
        for (h, _), e in self.entries.items():
            if h not in out or e.scored_at > out[h].scored_at:
                out[h] = e
        return out

    # ---------------------------------------------------------------- write
    def put(self, entry: Entry) -> None:
        self.entries[(entry.input_hash, entry.fingerprint)] = entry

    def label(self, item: LabelledItem, input_hash: str) -> None:
        self.items[item.id] = (item, input_hash)

    def save(self) -> None:
        import pyarrow as pa

        self.path.mkdir(parents=True, exist_ok=True)
        score_t = pa.struct([("scorer", pa.string()), ("label", pa.string()), ("value", pa.float64()),
                             ("sample", pa.int32()), ("modality", pa.string()),
                             ("start", pa.float64()), ("end", pa.float64())])
        es = list(self.entries.values())
        entries = pa.table({
            "input_hash": [e.input_hash for e in es], "fingerprint": [e.fingerprint for e in es],
            "kind": [e.kind for e in es],
            "models": [json.dumps(e.models, sort_keys=True) for e in es],
            "params": [json.dumps(e.params, sort_keys=True) for e in es],
            "statuses": [json.dumps(e.statuses) for e in es],
            "error": [json.dumps(e.error) if e.error else None for e in es],
            "scores": pa.array([e.scores for e in es], type=pa.list_(score_t)),
            "prep": [e.prep for e in es],
            "scored_at": pa.array([e.scored_at for e in es], type=pa.float64()),
        })
        its = list(self.items.values())
        items = pa.table({
            "id": [i.id for i, _ in its], "kind": [i.kind for i, _ in its],
            "input": [i.input for i, _ in its], "input_hash": [h for _, h in its],
            "labels": pa.array([sorted(i.labels) for i, _ in its], type=pa.list_(pa.string())),
            "scope": pa.array([None if i.scope is None else sorted(i.scope) for i, _ in its],
                              type=pa.list_(pa.string())),
        })
        _write_atomic(entries, self.path / "entries.parquet")
        _write_atomic(items, self.path / "items.parquet")
