"""Records that flow through the pipeline, one direction:

    ingest ─► sample ─► extract ─► score ─► aggregate ─► decide ─► report
    MediaInfo  Sample     Sample     Score    CategoryResult  Decision

`Sample` and `Score` are internal, frozen dataclasses (a Sample may hold a frame as a numpy
array). The output records (`Segment`, `CategoryResult`, `Decision`, …) are pydantic models so
that their JSON Schema can be exported (`modpipe schema`) and kept in the repo.

Score semantics (the one contract every scorer keeps): `value` is in [0, 1] and higher means
riskier. Raw model outputs (distances, logits, boxes, matched text) go into `evidence`.
Thresholds live only in the policy, never in a scorer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Modality(str, enum.Enum):
    """Where a sample came from. Text modalities carry `text`; visual ones carry `image`."""

    PROMPT = "prompt"  # the text of a pre-generation prompt
    SPEECH = "speech"  # a transcript segment of the video's audio
    OCR = "ocr"  # on-screen text read from a frame
    FRAME = "frame"  # a decoded video frame (RGB uint8, H×W×3)
    IMAGE = "image"  # a reference image passed to the gate

    @property
    def is_text(self) -> bool:
        return self in (Modality.PROMPT, Modality.SPEECH, Modality.OCR)


TEXT_MODALITIES = frozenset({Modality.PROMPT, Modality.SPEECH, Modality.OCR})
VISUAL_MODALITIES = frozenset({Modality.FRAME, Modality.IMAGE})

Action = Literal["allow", "review", "block"]
ACTION_RANK: dict[str, int] = {"allow": 0, "review": 1, "block": 2}


def max_action(*actions: str) -> str:
    """The strictest of the given actions (block > review > allow)."""
    return max(actions, key=ACTION_RANK.__getitem__, default="allow")


@dataclass(frozen=True)
class MediaInfo:
    """What ingest learned about a media file before decoding it."""

    path: str
    duration_s: float
    width: int
    height: int
    fps: float
    frame_count: int | None
    has_audio: bool
    video_codec: str | None = None
    audio_codec: str | None = None
    container: str | None = None


@dataclass(frozen=True)
class Sample:
    """One unit that scorers look at: a frame, an image, or a span of text.

    `start`/`end` are seconds from the video's presentation timestamps (both None for a
    prompt or a reference image). `index` is unique within one request.
    """

    index: int
    modality: Modality
    start: float | None = None
    end: float | None = None
    text: str | None = None
    image: Any = None  # numpy.ndarray H×W×3 uint8 RGB for visual modalities
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.modality.is_text and self.text is None:
            raise ValueError(f"{self.modality.value} sample {self.index} has no text")
        if not self.modality.is_text and self.image is None:
            raise ValueError(f"{self.modality.value} sample {self.index} has no image")


@dataclass(frozen=True)
class Score:
    """One scorer output for one sample and one label. `value` ∈ [0, 1], higher = riskier."""

    scorer: str  # the scorer's name in the policy
    label: str  # which of the scorer's outputs (e.g. "sexual", "EXPOSED_GENITALIA", "match")
    value: float
    sample: int  # Sample.index
    modality: Modality
    start: float | None = None
    end: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.value <= 1.0:  # NaN fails this too
            raise ValueError(
                f"scorer {self.scorer!r} label {self.label!r} gave {self.value!r}; "
                "scores must lie in [0, 1]"
            )

    def with_value(self, value: float, **evidence: Any) -> Score:
        return Score(
            self.scorer, self.label, value, self.sample, self.modality,
            self.start, self.end, {**self.evidence, **evidence},
        )


@dataclass
class ScanInput:
    """A video after ingest + sample (no models run yet): what `Pipeline.finish_scan` takes.

    Built by `Pipeline.prepare_scan` (a CPU-only step, a Ray task in batch mode). `error` is set
    instead of raising when the media cannot be read, so the error becomes a `review` record.
    """

    id: str
    input: str
    info: MediaInfo | None = None
    frames: list[Sample] = field(default_factory=list)
    audio: Any = None  # float32 mono 16 kHz numpy array, or None (no audio / not extracted)
    error: ErrorInfo | None = None
    audio_error: ErrorInfo | None = None  # the audio track exists but could not be decoded
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class ScanTrace:
    """What a scan saw on the way, for reports and benchmarks: the prepared input (frames), the
    text samples extracted (speech, on-screen text), the raw scores and per-stage wall times."""

    text_samples: list[Sample] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    prepared: ScanInput | None = None  # the sampled frames (set by `Pipeline.scan`)


# ---------------------------------------------------------------------------- output records


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Segment(_Out):
    """Evidence for a category: where (time span or text span), which modality, which scorer."""

    start: float | None = Field(None, description="seconds from start of video; null for prompts")
    end: float | None = Field(None, description="seconds; null for prompts")
    modality: str
    scorer: str
    label: str
    score: float
    evidence: dict[str, Any] = Field(default_factory=dict)


class CategoryResult(_Out):
    score: float = Field(..., ge=0.0, le=1.0, description="aggregated risk in [0,1]")
    action: Action
    review_at: float
    block_at: float
    segments: list[Segment] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)


class ErrorInfo(_Out):
    type: str
    message: str


class ScorerStatus(_Out):
    """A scorer that did not contribute: unavailable (no weights) or failed while scoring; or
    `unread`: a prompt in a language the text models cannot read, which the encoder skipped
    (scorer `language`; the policy's `languages.unread` says what its categories become)."""

    scorer: str
    status: Literal["unavailable", "failed", "timeout", "unread"]
    message: str
    categories: list[str] = Field(default_factory=list)


class Provenance(_Out):
    modpipe_version: str
    policy_name: str
    policy_hash: str = Field(..., description="sha256 of the policy's canonical content")
    models: dict[str, str] = Field(default_factory=dict, description="scorer name → model id")


class Decision(_Out):
    """The answer for one prompt or one video. The JSON contract of `gate` and `scan`."""

    id: str | None = None
    kind: Literal["gate", "scan"]
    input: str | None = Field(None, description="video path/URI for scans; never the prompt")
    action: Action
    score: float = Field(
        ..., ge=0.0, le=1.0,
        description="overall risk for ranking: the highest category score on one scale "
                    "(review_at → 0.5, block_at → 0.75); ≥ 0.5 exactly when action is not allow",
    )
    categories: dict[str, CategoryResult]
    reasons: list[str] = Field(default_factory=list)
    error: ErrorInfo | None = None
    scorers: list[ScorerStatus] = Field(
        default_factory=list, description="scorers that were unavailable or failed"
    )
    user: str | None = None
    audience: str | None = None
    timings: dict[str, float] = Field(default_factory=dict, description="seconds per stage")
    provenance: Provenance
    media: dict[str, Any] | None = None

    def flagged(self) -> dict[str, CategoryResult]:
        return {k: v for k, v in self.categories.items() if v.action != "allow"}
