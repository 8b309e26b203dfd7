"""Lexicon scorer: unambiguous terms, matched word-bounded on normalised text.

A hit scores `hit_value` (default 1.0) with the matched term and its character span as evidence;
no hit scores 0. Use it only for terms that are harmful in every context — everything else
belongs to the embedding scorer, which sees context. A term harmful only where there is no
context to read (a few words of speech or on-screen text) goes under its own label and the
category's signal names those modalities (`modalities: [speech, ocr]`), as the default policy
does for "kys" and "porn".
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from modpipe.scorers.base import Scorer
from modpipe.text.words import phrases
from modpipe.types import TEXT_MODALITIES, Sample, Score


class LexiconParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    terms: dict[str, list[str]] = Field(..., min_length=1)
    hit_value: float = Field(1.0, ge=0.0, le=1.0)


class LexiconScorer(Scorer):
    type = "lexicon"
    modalities = TEXT_MODALITIES
    Params = LexiconParams

    @classmethod
    def outputs(cls, params: LexiconParams) -> frozenset[str]:
        return frozenset(params.terms)

    def __init__(self, name, params: LexiconParams, resources) -> None:  # noqa: ANN001
        super().__init__(name, params, resources)
        self._patterns = {label: phrases(terms) for label, terms in params.terms.items() if terms}

    @property
    def model_id(self) -> str:
        n = sum(len(t) for t in self.params.terms.values())
        return f"lexicon:{n}-terms"

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        out: list[Score] = []
        for s in samples:
            text = (s.text or "").lower()
            for label, pat in self._patterns.items():
                m = pat.search(text)
                value = self.params.hit_value if m else 0.0
                ev = {"term": m.group(1), "span": [m.start(1), m.end(1)]} if m else {}
                out.append(Score(self.name, label, value, s.index, s.modality, s.start, s.end, ev))
        return out
