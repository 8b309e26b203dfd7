"""face_likeness: faces in frames and reference images matched against the likeness gallery.

For every face dlib finds, the nearest enrolled embedding gives a distance d and a value
`1 / (1 + exp((d - threshold) / scale))`: dlib's usual same-person cut (0.6) sits at 0.5 and
clear matches (d ≤ 0.45) score ≥ 0.9. One Score per face (label `match`), evidence: person_id,
name, kind, distance, box, faces. A sample without faces (or an empty gallery) scores 0.

Pure like every scorer: no user, no consent (`modpipe.likeness.consent` applies that later).
The gallery is re-read when the registry's version counter moves, so an `enroll` in another
process is seen by a long-running server within a second (`Registry.recent_version`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from modpipe.scorers.base import Scorer
from modpipe.types import VISUAL_MODALITIES, Sample, Score


class FaceLikenessParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    upsample: int = Field(1, ge=0, le=2, description="HOG upsampling: 1 finds ~40 px faces")
    max_side: int = Field(1024, ge=320, description="downscale larger images before detection")
    threshold: float = Field(0.6, gt=0.0, lt=2.0, description="distance that maps to value 0.5")
    scale: float = Field(0.07, gt=0.0, description="distance per logistic unit")


def match_value(distance: float, threshold: float = 0.6, scale: float = 0.07) -> float:
    return 1.0 / (1.0 + math.exp(min(50.0, (distance - threshold) / scale)))


class FaceLikenessScorer(Scorer):
    type = "face_likeness"
    modalities = VISUAL_MODALITIES
    Params = FaceLikenessParams

    @classmethod
    def outputs(cls, params: BaseModel) -> frozenset[str]:
        return frozenset({"match"})

    def __init__(self, name, params: FaceLikenessParams, resources) -> None:  # noqa: ANN001
        super().__init__(name, params, resources)
        from modpipe.likeness import get_registry
        from modpipe.likeness.faces import FaceEngine

        self.engine = resources.get(f"likeness.faces:{params.upsample}:{params.max_side}",
                                    lambda: FaceEngine(params.upsample, params.max_side))
        self.registry = get_registry(resources)
        self._gallery = self.registry.gallery()

    @property
    def model_id(self) -> str:
        return self.engine.model_id

    def gallery(self):  # noqa: ANN201
        if self.registry.recent_version() != self._gallery.version:
            self._gallery = self.registry.gallery()
        return self._gallery

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        g = self.gallery()
        found = self.engine.faces([s.image for s in samples]) if len(g.person_ids) else [[]] * len(samples)
        p = self.params
        out: list[Score] = []
        for s, faces in zip(samples, found, strict=True):
            if not faces:
                out.append(Score(self.name, "match", 0.0, s.index, s.modality, s.start, s.end,
                                 {"faces": 0, "gallery": len(g.person_ids)}))
                continue
            dists = np.linalg.norm(g.embeddings[None, :, :] - np.stack([f.embedding for f in faces])[:, None, :],
                                   axis=2)
            for f, row in zip(faces, dists, strict=True):
                j = int(np.argmin(row))
                person = g.people[g.person_ids[j]]
                d = float(row[j])
                out.append(Score(self.name, "match", match_value(d, p.threshold, p.scale), s.index,
                                 s.modality, s.start, s.end,
                                 {"person_id": person.id, "name": person.name, "kind": person.kind,
                                  "distance": round(d, 4), "box": list(f.box), "faces": len(faces)}))
        return out
