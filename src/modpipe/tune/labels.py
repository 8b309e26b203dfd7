"""Labelled examples for tuning: JSONL lines `{"id", "text" | "uri", "labels": [...]}`.

Also reads the dev-data format (`shared/data/text/*.jsonl`): `labels` may be `["none"]`, and
`label_scope` lists the categories the source annotates. An item is a negative for a category
only when that category is in its scope (no `label_scope` = every category is in scope).
Dataset label names map onto policy category names through `CATEGORY_ALIASES`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from modpipe.errors import InputError

# dataset label → policy category (the dev data says `violence`, the policy `violence_gore`)
CATEGORY_ALIASES: dict[str, str] = {"violence": "violence_gore"}
NONE_LABELS = frozenset({"none", ""})


def canonical(category: str) -> str:
    return CATEGORY_ALIASES.get(category, category)


@dataclass(frozen=True)
class LabelledItem:
    id: str
    kind: str  # "gate" (text) or "scan" (video uri)
    input: str  # the prompt text, or the video path/URI
    labels: frozenset[str]
    scope: frozenset[str] | None  # None: every category is in scope

    def in_scope(self, category: str) -> bool:
        return self.scope is None or category in self.scope

    def positive(self, category: str) -> bool:
        return category in self.labels


def _names(value: object, field: str, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: {field!r} must be a list of category names")
    return frozenset(canonical(v) for v in value if v not in NONE_LABELS)


def parse_item(obj: object, where: str) -> LabelledItem:
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected a JSON object")
    has_text, has_uri = isinstance(obj.get("text"), str), isinstance(obj.get("uri"), str)
    if has_text == has_uri:
        raise InputError(f"{where}: give exactly one of 'text' (a prompt) or 'uri' (a video)")
    if "id" not in obj:
        raise InputError(f"{where}: missing 'id'")
    scope = obj.get("label_scope")
    return LabelledItem(
        id=str(obj["id"]), kind="gate" if has_text else "scan",
        input=obj["text"] if has_text else obj["uri"],
        labels=_names(obj.get("labels", []), "labels", where),
        scope=None if scope is None else _names(scope, "label_scope", where),
    )


def read_labels(path: str | Path) -> list[LabelledItem]:
    """Read a labels file; a bad line raises `InputError` naming file and line (nothing is half-read)."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read labels {p}: {exc}") from None
    items: list[LabelledItem] = []
    seen: set[str] = set()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{p}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not JSON ({exc.msg})") from None
        item = parse_item(obj, where)
        if item.id in seen:
            raise InputError(f"{where}: duplicate id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    return items
