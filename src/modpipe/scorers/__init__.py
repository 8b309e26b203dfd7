"""Scorer registry: type name → class, as data.

Built-in scorers are listed below as import strings so that nothing heavy is imported until a
policy asks for a type. Third parties add types through the `modpipe.scorers` entry point group
(`name = "package.module:Class"`) or `register()`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from modpipe.errors import PolicyError

if TYPE_CHECKING:
    from modpipe.scorers.base import Scorer

BUILTIN: dict[str, str] = {
    "text_embedding": "modpipe.scorers.text_embedding:TextEmbeddingScorer",
    "lexicon": "modpipe.scorers.lexicon:LexiconScorer",
    "nudenet": "modpipe.scorers.nudity:NudeNetScorer",
    "clip_zeroshot": "modpipe.scorers.clip_zeroshot:ClipZeroShotScorer",
    "face_likeness": "modpipe.scorers.face_likeness:FaceLikenessScorer",
    "name_match": "modpipe.scorers.name_match:NameMatchScorer",
}

_extra: dict[str, type[Scorer]] = {}


def register(cls: type[Scorer]) -> type[Scorer]:
    """Register a scorer class under its `type` (usable as a decorator)."""
    _extra[cls.type] = cls
    return cls


def _plugins() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group="modpipe.scorers")}


def available_types() -> list[str]:
    return sorted({*BUILTIN, *_plugins(), *_extra})


def get_scorer_class(type_name: str) -> type[Scorer]:
    if type_name in _extra:
        return _extra[type_name]
    target = BUILTIN.get(type_name) or _plugins().get(type_name)
    if target is None:
        raise PolicyError(
            f"unknown scorer type {type_name!r}; known types: {', '.join(available_types())}"
        )
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
