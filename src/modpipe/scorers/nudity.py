"""Nudity scorer: the NudeNet 320n detector (ONNX, shipped in the `nudenet` package).

Each output label maps to a set of NudeNet classes; a sample's score for a label is the highest
detection confidence among those classes (0 when none is found). Boxes, classes and confidences
go into the evidence. Frames are passed as RGB and converted to the BGR the detector expects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from modpipe.errors import ModelUnavailableError
from modpipe.scorers.base import Scorer
from modpipe.types import VISUAL_MODALITIES, Sample, Score

NUDENET_CLASSES = frozenset({
    "FEMALE_GENITALIA_COVERED", "FACE_FEMALE", "BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED", "MALE_BREAST_EXPOSED", "ANUS_EXPOSED", "FEET_EXPOSED",
    "BELLY_COVERED", "FEET_COVERED", "ARMPITS_COVERED", "ARMPITS_EXPOSED", "FACE_MALE",
    "BELLY_EXPOSED", "MALE_GENITALIA_EXPOSED", "ANUS_COVERED", "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
})


class NudeNetParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    labels: dict[str, list[str]] = Field(..., min_length=1, description="label → NudeNet classes")
    model_path: str | None = Field(None, description="another NudeNet ONNX (e.g. 640m)")
    resolution: int = Field(320, description="detector input size (320 for 320n, 640 for 640m)")
    batch_size: int = Field(8, ge=1, le=64)

    @field_validator("labels")
    @classmethod
    def _known_classes(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for label, classes in v.items():
            bad = sorted(set(classes) - NUDENET_CLASSES)
            if bad:
                raise ValueError(f"label {label!r}: unknown NudeNet classes {bad}")
        return v


class NudeNetScorer(Scorer):
    type = "nudenet"
    modalities = VISUAL_MODALITIES
    Params = NudeNetParams

    @classmethod
    def outputs(cls, params: NudeNetParams) -> frozenset[str]:
        return frozenset(params.labels)

    def __init__(self, name, params: NudeNetParams, resources) -> None:  # noqa: ANN001
        super().__init__(name, params, resources)
        try:
            import nudenet
            from nudenet import NudeDetector
        except ImportError as exc:  # pragma: no cover - core dependency
            raise ModelUnavailableError("nudenet is not installed", hint="pip install nudenet") from exc
        path = Path(params.model_path) if params.model_path else Path(nudenet.__file__).parent / "320n.onnx"
        if not path.is_file():
            raise ModelUnavailableError(f"NudeNet model not found at {path}")
        self.detector = NudeDetector(model_path=str(path), inference_resolution=params.resolution)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        self._model_id = f"nudenet/{path.name}@sha256:{digest}"

    @property
    def model_id(self) -> str:
        return self._model_id

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        if not samples:
            return []
        bgr = [np.ascontiguousarray(s.image[:, :, ::-1]) for s in samples]
        detections = self.detector.detect_batch(bgr, batch_size=self.params.batch_size)
        out: list[Score] = []
        for s, dets in zip(samples, detections, strict=True):
            for label, classes in self.params.labels.items():
                hits = [d for d in dets if d["class"] in classes]
                best = max(hits, key=lambda d: d["score"], default=None)
                value = float(best["score"]) if best else 0.0
                ev = {"detections": [{"class": d["class"], "score": round(d["score"], 4), "box": d["box"]} for d in hits]} if hits else {}
                out.append(Score(self.name, label, value, s.index, s.modality, s.start, s.end, ev))
        return out
