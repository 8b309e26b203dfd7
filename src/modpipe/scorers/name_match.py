"""name_match: public-figure and cameo-owner names (and aliases) in prompts, speech and OCR.

One Score per person named in a sample (label `match`), with evidence person_id, name, kind,
the variant that matched, the matched (folded) text and its character span. Value: 1.0 for an
exact match after folding, 0.9 / 0.8 for one / two edits (near-misspellings). A sample that
names nobody scores 0. Matching rules live in `modpipe.likeness.names`.

Pure: no user, no consent. The index is rebuilt when the registry's version counter moves
(checked per request through `Registry.recent_version`: another process's import shows within a second).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from modpipe.scorers.base import Scorer
from modpipe.types import TEXT_MODALITIES, Sample, Score


class NameMatchParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    exact_value: float = Field(1.0, ge=0.0, le=1.0)
    per_edit_penalty: float = Field(0.1, ge=0.0, le=0.5, description="value lost per edit")


class NameMatchScorer(Scorer):
    type = "name_match"
    modalities = TEXT_MODALITIES
    Params = NameMatchParams

    @classmethod
    def outputs(cls, params: BaseModel) -> frozenset[str]:
        return frozenset({"match"})

    def __init__(self, name, params: NameMatchParams, resources) -> None:  # noqa: ANN001
        super().__init__(name, params, resources)
        from modpipe.likeness import get_registry

        self.registry = get_registry(resources)
        self._version = -1
        self._matcher = None
        self.matcher()

    @property
    def model_id(self) -> str:
        return f"name_match:registry-v{self._version}:{self._matcher.n_keys}-keys"

    def matcher(self):  # noqa: ANN201
        v = self.registry.recent_version()
        if v != self._version:
            from modpipe.likeness.names import NameMatcher

            self._matcher = NameMatcher((p.id, p.name, p.kind, p.aliases) for p in self.registry.people())
            self._version = v
        return self._matcher

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        m = self.matcher()
        p = self.params
        out: list[Score] = []
        for s in samples:
            hits = m.find(s.text or "")
            if not hits:
                out.append(Score(self.name, "match", 0.0, s.index, s.modality, s.start, s.end))
            for h in hits:
                value = max(0.0, p.exact_value - p.per_edit_penalty * h.distance)
                out.append(Score(self.name, "match", value, s.index, s.modality, s.start, s.end,
                                 {"person_id": h.person_id, "name": h.name, "kind": h.kind,
                                  "variant": h.variant, "matched": h.matched, "span": list(h.span),
                                  "edits": h.distance}))
        return out
