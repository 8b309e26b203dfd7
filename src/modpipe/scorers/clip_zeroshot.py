"""CLIP zero-shot scorer (open_clip, real loader, user-supplied weights).

Per label, the policy gives positive and negative text prompts. A frame's score for a label is
the softmax probability mass on the positive prompts among all of that label's prompts, with
CLIP's logit scale. Weights come from `params.weights` or `MODPIPE_CLIP_WEIGHTS`; when neither
points to a file the scorer raises `ModelUnavailableError` (reported in every decision), it is
never faked. `params.model_config_path` registers a custom open_clip model config (JSON) first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from modpipe.assets import CHECKPOINT_PREFIX, file_sha256
from modpipe.errors import ModelError, ModelUnavailableError
from modpipe.scorers.base import Scorer
from modpipe.types import VISUAL_MODALITIES, Sample, Score


class Prompts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    positive: list[str] = Field(..., min_length=1)
    negative: list[str] = Field(..., min_length=1)


class ClipParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str = Field("ViT-B-32", description="open_clip model name")
    weights: str | None = Field(None, description="checkpoint path; default MODPIPE_CLIP_WEIGHTS")
    model_config_path: str | None = Field(None, description="extra open_clip model config JSON")
    prompts: dict[str, Prompts] = Field(..., min_length=1)
    batch_size: int = Field(16, ge=1, le=256)

    @model_validator(mode="after")
    def _no_overlap(self) -> ClipParams:
        for label, p in self.prompts.items():
            both = set(p.positive) & set(p.negative)
            if both:
                raise ValueError(f"label {label!r}: prompts both positive and negative: {sorted(both)}")
        return self


class ClipZeroShotScorer(Scorer):
    type = "clip_zeroshot"
    modalities = VISUAL_MODALITIES
    Params = ClipParams

    @classmethod
    def outputs(cls, params: ClipParams) -> frozenset[str]:
        return frozenset(params.prompts)

    def __init__(self, name, params: ClipParams, resources) -> None:  # noqa: ANN001
        super().__init__(name, params, resources)
        weights = params.weights or resources.settings.clip_weights
        if not weights:
            raise ModelUnavailableError(
                f"CLIP scorer {name!r} has no weights",
                hint="set MODPIPE_CLIP_WEIGHTS or scorers.clip.params.weights to an open_clip checkpoint",
            )
        path = Path(weights).expanduser()
        if not path.is_file():
            raise ModelUnavailableError(f"CLIP weights not found at {path}")
        import open_clip
        import torch

        if params.model_config_path:
            open_clip.add_model_config(params.model_config_path)
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                params.model, pretrained=str(path), device=resources.settings.device
            )
        except Exception as exc:  # open_clip raises RuntimeError/KeyError for a mismatch
            raise ModelError(f"cannot load CLIP {params.model!r} from {path}: {exc}") from exc
        self.torch = torch
        self.model = model.eval()
        self.preprocess = preprocess
        tokenizer = open_clip.get_tokenizer(params.model)
        self._labels: list[tuple[str, int, int]] = []  # (label, n_pos, n_neg)
        texts: list[str] = []
        for label, p in params.prompts.items():
            texts += p.positive + p.negative
            self._labels.append((label, len(p.positive), len(p.negative)))
        with torch.inference_mode():
            tf = self.model.encode_text(tokenizer(texts).to(resources.settings.device))
            self.text_features = torch.nn.functional.normalize(tf.float(), dim=-1)
            self.logit_scale = float(self.model.logit_scale.exp().clamp(max=100))
        self._model_id = f"open_clip/{params.model}@sha256:{file_sha256(path, CHECKPOINT_PREFIX)[:12]}"

    @property
    def model_id(self) -> str:
        return self._model_id

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        from PIL import Image

        torch = self.torch
        out: list[Score] = []
        for lo in range(0, len(samples), self.params.batch_size):
            batch = samples[lo : lo + self.params.batch_size]
            x = torch.stack([self.preprocess(Image.fromarray(s.image)) for s in batch])
            with torch.inference_mode():
                f = torch.nn.functional.normalize(self.model.encode_image(x.to(self.text_features.device)).float(), dim=-1)
                logits = (self.logit_scale * f @ self.text_features.T).cpu().numpy()
            for row, s in zip(logits, batch, strict=True):
                col = 0
                for label, n_pos, n_neg in self._labels:
                    seg = row[col : col + n_pos + n_neg]
                    col += n_pos + n_neg
                    e = np.exp(seg - seg.max())
                    probs = e / e.sum()
                    value = float(np.clip(probs[:n_pos].sum(), 0.0, 1.0))
                    best = int(np.argmax(seg))
                    ev = {"top_prompt_index": best, "positive_mass": round(value, 4)}
                    out.append(Score(self.name, label, value, s.index, s.modality, s.start, s.end, ev))
        return out
