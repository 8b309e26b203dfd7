"""The scorer contract: small on purpose.

A scorer has a registered `type`, the `modalities` it accepts, a pydantic `Params` model that
the policy loader validates before any weights load, `outputs(params)` (the labels it can emit,
so categories can be cross-checked at load time), `score(samples) -> list[Score]` and `close()`.

Scorers are pure: no thresholds, no consent, no user. Heavy imports (torch, onnxruntime, dlib)
happen inside `__init__`, never at module import, so `import modpipe` stays light.
A scorer whose weights are absent raises `ModelUnavailableError` from `__init__`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict

from modpipe.types import Modality, Sample, Score

if TYPE_CHECKING:
    from modpipe.resources import Resources


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scorer(ABC):
    type: ClassVar[str]
    modalities: ClassVar[frozenset[Modality]]
    Params: ClassVar[type[BaseModel]] = NoParams

    def __init__(self, name: str, params: BaseModel, resources: Resources) -> None:
        self.name = name
        self.params = params
        self.resources = resources

    @classmethod
    @abstractmethod
    def outputs(cls, params: BaseModel) -> frozenset[str]:
        """Labels this scorer can emit with these params (checked against category signals)."""

    @property
    @abstractmethod
    def model_id(self) -> str:
        """Model id and revision/checksum, recorded in every decision's provenance."""

    @abstractmethod
    def score(self, samples: Sequence[Sample]) -> list[Score]:
        """Score the samples (only modalities in `self.modalities` are passed)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release models and files."""
