"""The policy schema: YAML → these pydantic models. Data, not code.

A policy declares named **scorers** (a registered type plus its `params`) and **categories**.
Each category lists the scorer outputs (`signals`) that feed it, how those scores aggregate
over time, its `review_at`/`block_at` thresholds, and per-audience overrides. Cross-references
(signal → scorer → label, audience names, thresholds order) are checked at load time in
`policy.loader`, before any model weights load.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from modpipe.types import Modality


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Strict):
    review_at: float = Field(..., ge=0.0, le=1.0)
    block_at: float = Field(..., ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.review_at > self.block_at:
            raise ValueError(
                f"review_at ({self.review_at}) must not exceed block_at ({self.block_at})"
            )
        return self


class ScorerSpec(_Strict):
    type: str = Field(..., description="registered scorer type, e.g. text_embedding, nudenet")
    params: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    if_unavailable: Literal["fail_closed", "fallback"] = Field(
        "fail_closed",
        description="when its weights are absent: fail_closed → categories it feeds go to their "
        "on_unavailable action; fallback → they use their other signals (still reported loudly)",
    )


class Signal(_Strict):
    scorer: str
    label: str
    weight: float = Field(1.0, gt=0.0, le=1.0, description="scales the score before fusion")
    modalities: list[Modality] | None = Field(
        None, description="only samples of these modalities count (default: all the scorer sees)"
    )

    @cached_property
    def modality_set(self) -> frozenset[Modality] | None:  # built once: decisions ask per score
        return frozenset(self.modalities) if self.modalities else None

    def weighted(self, value):  # noqa: ANN001, ANN201 - a float or a numpy array of scores
        """The score as this signal counts it (weight ≤ 1, so it stays in [0, 1])."""
        return value if self.weight == 1.0 else value * self.weight


class Aggregate(_Strict):
    """How one category's scores combine over time (seconds, from timestamps) and modalities."""

    method: Literal["max", "topk_mean", "k_of_n"] = "max"
    k: int = Field(1, ge=1, description="top-k for topk_mean; k for k_of_n")
    n: int = Field(1, ge=1, description="window size in samples for k_of_n")
    window_s: float = Field(0.0, ge=0.0, description="moving-average window over time")
    min_duration_s: float = Field(
        0.0, ge=0.0, description="a segment shorter than this only counts up to review"
    )
    instant_block: bool = Field(
        True, description="one sample at or over block_at blocks even if shorter than min_duration"
    )
    fusion_boost: float = Field(
        0.1, ge=0.0, le=0.5,
        description="added per extra modality that agrees (≥ review_at) on overlapping time",
    )
    gap_s: float = Field(1.0, ge=0.0, description="samples closer than this join one segment")

    @model_validator(mode="after")
    def _kn(self) -> Aggregate:
        if self.method == "k_of_n" and self.k > self.n:
            raise ValueError(f"k_of_n needs k ≤ n (got k={self.k}, n={self.n})")
        return self


class Category(_Strict):
    description: str = ""
    signals: list[Signal] = Field(..., min_length=1)
    review_at: float = Field(..., ge=0.0, le=1.0)
    block_at: float = Field(..., ge=0.0, le=1.0)
    aggregate: Aggregate = Field(default_factory=Aggregate)
    on_unavailable: Literal["review", "block"] = "review"
    audiences: dict[str, Thresholds] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ordered(self) -> Category:
        Thresholds(review_at=self.review_at, block_at=self.block_at)
        return self

    def thresholds(self, audience: str | None) -> Thresholds:
        if audience and audience in self.audiences:
            return self.audiences[audience]
        return self._default_thresholds

    @cached_property
    def _default_thresholds(self) -> Thresholds:  # built once: the gate asks per category per call
        return Thresholds(review_at=self.review_at, block_at=self.block_at)

    @cached_property
    def signal_keys(self) -> tuple[tuple[tuple[str, str], frozenset[Modality] | None, float], ...]:
        """Per signal: its (scorer, label) index key, modality set and weight, built once (the
        gate's decision reads them for every category of every prompt)."""
        return tuple(((s.scorer, s.label), s.modality_set, s.weight) for s in self.signals)


class Sampling(_Strict):
    fps: float = Field(1.0, gt=0.0, le=30.0, description="uniform sampling rate")
    max_frames: int = Field(240, ge=1, description="cap on sampled frames for long videos")
    change_aware: bool = Field(True, description="add frames at cuts and brief flashes")
    change_threshold: float = Field(
        0.12, gt=0.0, le=1.0, description="mean abs difference (0–1) on the low-res pass"
    )
    analysis_width: int = Field(160, ge=16, le=1920, description="width of the low-res pass")
    max_decode_errors: int = Field(25, ge=0, description="bad packets tolerated before failing")


class Extraction(_Strict):
    asr: bool = True
    ocr: bool = True
    asr_language: str | None = "en"


class Languages(_Strict):
    """Prompts in a language with no translator here (`modpipe.text.translate`). The English
    encoder misreads them ("ein Hund spielt im Garten mit einem Ball" read as sexual 0.98), so by
    default it skips such a prompt — unless the text heads learned the language (Arabic), when its
    reading still ranks and can block — and every category it feeds goes to review, saying why.
    A prompt of emoji alone is unread too: it is scored through the emoji's names, and that
    reading may block but not allow unless `unread` is `as_written`."""

    unread: Literal["review", "block", "as_written"] = Field(
        "review", description="review / block: every category the encoder feeds is at least this (the "
        "encoder skips the prompt unless the heads learned its language); as_written: score it as "
        "written like an English prompt (the lexicon and names always read it)")
    confident: float = Field(
        0.8, ge=0.0, le=1.0, description="the language identifier's confidence needed to call a prompt unread")
    trusted: list[str] = Field(
        default_factory=list, description="languages (ISO 639-1) the text heads learned whose reading alone "
        "may allow a prompt (say ar, once measured on your prompts); by default it only ranks and blocks")


class Policy(_Strict):
    version: Literal[1] = 1
    name: str
    description: str = ""
    audiences: list[str] = Field(default_factory=list)
    sampling: Sampling = Field(default_factory=Sampling)
    extraction: Extraction = Field(default_factory=Extraction)
    languages: Languages = Field(default_factory=Languages)
    euphemisms: dict[str, str] = Field(
        default_factory=dict, description="coded words (\"algospeak\": unalive, seggs, 1488) and the plain "
        "words they stand for: a prompt, transcript or on-screen line holding one is also read with the plain "
        "words (one more variant, one more sample), so "
        "the encoder sees what was meant (add only words that mean the same in every context)")
    scorers: dict[str, ScorerSpec]
    categories: dict[str, Category] = Field(..., min_length=1)

    @cached_property
    def feeding(self) -> dict[str, frozenset[str]]:
        """category → the enabled scorers its signals read (computed once; decisions ask per call)."""
        return {name: frozenset(sig.scorer for sig in cat.signals if self.scorers[sig.scorer].enabled)
                for name, cat in self.categories.items()}
