"""Text scorer: MiniLM sentence embeddings → per-label risk, from trained heads and exemplars.

Two signals per label, combined:
- a **trained head** (logistic regression on the embedding, calibrated; trained by
  `modpipe.text.train_heads` and shipped under `models/`), when the heads file has that label;
- **policy exemplars**: cosine similarity to the label's positive phrases, pushed down when a
  negative phrase is closer. A policy author steers a label by adding phrases, no retraining.

The score is `max(head, exemplar)` scaled by the negative-exemplar suppression. Both raw parts go
into the evidence. Accepts prompts, transcript segments and OCR text alike.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from modpipe.assets import models_dir
from modpipe.errors import ModelUnavailableError
from modpipe.scorers.base import Scorer
from modpipe.text.encoder import shared_encoder
from modpipe.types import TEXT_MODALITIES, Modality, Sample, Score


class Exemplars(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    positive: list[str] = Field(default_factory=list)
    negative: list[str] = Field(default_factory=list)


class TextEmbeddingParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    labels: dict[str, Exemplars] = Field(..., min_length=1)
    heads: str | None = Field(
        None, description="heads file under models/ (NAME.npz + NAME.json); null = none"
    )
    exemplar_center: float = Field(0.62, ge=0.0, le=1.0, description="cosine scored as 0.5")
    exemplar_scale: float = Field(14.0, gt=0.0, description="sigmoid steepness")
    head_full_words: int = Field(
        0, ge=0, le=50,
        description="speech/OCR text shorter than this many words gets a proportionally smaller "
        "head score (short ASR fragments and mis-heard words look like short social posts to the "
        "heads); 0 = off. Prompts are never damped; exemplars and lexicon are unaffected",
    )
    negative_margin: float = Field(
        0.04, ge=0.0, le=1.0, description="a negative this much closer than any positive mutes"
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class Heads:
    """Logistic-regression heads over the encoder's embedding, with Platt calibration."""

    def __init__(self, labels: list[str], W: np.ndarray, b: np.ndarray, a: np.ndarray | None = None,
                 c: np.ndarray | None = None, model_id: str = "heads") -> None:
        self.labels = list(labels)
        self.W = np.asarray(W, dtype=np.float32)  # L × D
        self.b = np.asarray(b, dtype=np.float32)  # L
        self.a = np.ones_like(self.b) if a is None else np.asarray(a, dtype=np.float32)
        self.c = np.zeros_like(self.b) if c is None else np.asarray(c, dtype=np.float32)
        self.model_id = model_id

    @classmethod
    def load(cls, path: Path) -> Heads:
        """models/NAME.npz (W, b, calib_a, calib_c) + models/NAME.json (labels, checksum)."""
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(path.with_suffix(".json").read_text())
        return cls(meta["labels"], arrays["W"], arrays["b"], arrays.get("calib_a"),
                   arrays.get("calib_c"), f"{path.stem}@{meta.get('checksum', 'unknown')[:19]}")

    def predict(self, emb: np.ndarray) -> np.ndarray:
        logits = emb @ self.W.T + self.b
        return _sigmoid(self.a * logits + self.c)


class TextEmbeddingScorer(Scorer):
    type = "text_embedding"
    modalities = TEXT_MODALITIES
    Params = TextEmbeddingParams

    @classmethod
    def outputs(cls, params: TextEmbeddingParams) -> frozenset[str]:
        return frozenset(params.labels)

    def __init__(self, name, params: TextEmbeddingParams, resources) -> None:  # noqa: ANN001
        super().__init__(name, params, resources)
        self.encoder = shared_encoder(resources)
        self.heads: Heads | None = None
        if params.heads:
            path = models_dir() / f"{params.heads}.npz"
            if not path.is_file():
                raise ModelUnavailableError(
                    f"text heads {params.heads!r} not found at {path}",
                    hint="train them with `make train-heads`, or set heads: null in the policy",
                )
            self.heads = Heads.load(path)
        self.labels = list(params.labels)
        self._ex: dict[str, tuple[np.ndarray, np.ndarray, list[str], list[str]]] = {}
        for label, ex in params.labels.items():
            pos = self.encoder.encode(ex.positive) if ex.positive else np.zeros((0, self.encoder.dim))
            neg = self.encoder.encode(ex.negative) if ex.negative else np.zeros((0, self.encoder.dim))
            self._ex[label] = (pos, neg, ex.positive, ex.negative)

    @property
    def model_id(self) -> str:
        return self.encoder.model_id + (f"+{self.heads.model_id}" if self.heads else "")

    def score_embeddings(self, emb: np.ndarray, head_scale: np.ndarray | None = None,
                         ) -> dict[str, tuple[np.ndarray, list[dict]]]:
        """label → (scores[N], evidence[N]) for N embeddings. Exposed for tuning and benchmarks.
        `head_scale` (N,) multiplies the head probabilities (see `head_full_words`)."""
        p = self.params
        head_probs = self.heads.predict(emb) if self.heads is not None else None
        out: dict[str, tuple[np.ndarray, list[dict]]] = {}
        n = emb.shape[0]
        for label in self.labels:
            pos, neg, pos_txt, neg_txt = self._ex[label]
            ev: list[dict] = [{} for _ in range(n)]
            ex_score = np.zeros(n, dtype=np.float32)
            mute = np.ones(n, dtype=np.float32)
            best_pos = np.full(n, -1.0, dtype=np.float32)
            if len(pos):
                sims = emb @ pos.T
                best_pos = sims.max(1)
                arg = sims.argmax(1)
                ex_score = _sigmoid(p.exemplar_scale * (best_pos - p.exemplar_center))
                for i in range(n):
                    ev[i]["exemplar"] = pos_txt[arg[i]]
                    ev[i]["exemplar_cos"] = round(float(best_pos[i]), 4)
            head = np.zeros(n, dtype=np.float32)
            if head_probs is not None and label in self.heads.labels:
                head = head_probs[:, self.heads.labels.index(label)]
                if head_scale is not None:
                    head = head * head_scale
                for i in range(n):
                    ev[i]["head"] = round(float(head[i]), 4)
            if len(neg):
                sims_n = emb @ neg.T
                best_neg = sims_n.max(1)
                arg_n = sims_n.argmax(1)
                # a negative exemplar clearly closer than every positive mutes the label
                gap = best_neg - np.maximum(best_pos, 0.0) - p.negative_margin
                mute = np.clip(1.0 - gap * 10.0, 0.0, 1.0).astype(np.float32)
                mute = np.where(best_neg > p.exemplar_center - 0.1, mute, 1.0)
                for i in range(n):
                    if mute[i] < 1.0:
                        ev[i]["negative_exemplar"] = neg_txt[arg_n[i]]
                        ev[i]["negative_cos"] = round(float(best_neg[i]), 4)
            score = np.clip(np.maximum(head, ex_score) * mute, 0.0, 1.0)
            out[label] = (score, ev)
        return out

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        if not samples:
            return []
        emb = self.encoder.encode([s.text or "" for s in samples])
        scale = None
        if self.params.head_full_words:
            full = self.params.head_full_words
            scale = np.array([1.0 if s.modality == Modality.PROMPT else min(1.0, len((s.text or "").split()) / full)
                              for s in samples], dtype=np.float32)
        results = self.score_embeddings(emb, scale)
        scores: list[Score] = []
        for label, (vals, evs) in results.items():
            for s, v, ev in zip(samples, vals, evs, strict=True):
                scores.append(
                    Score(self.name, label, float(v), s.index, s.modality, s.start, s.end, ev)
                )
        return scores
