"""The extractor contract: a model that turns audio or frames into text samples.

Extractors are scorer-like units: loaded once through `Resources`, a `model_id` recorded in
every decision's provenance, `close()`. They produce `Sample`s (SPEECH, OCR) that the policy's
text scorers then score exactly like prompts. An extractor that cannot load or fails on a video
makes the categories fed by text scorers fail closed (`review`), stated in the decision.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from modpipe.types import Modality


class Extractor(ABC):
    name: ClassVar[str]  # "asr" or "ocr": the key in provenance and in scorer statuses
    modality: ClassVar[Modality]  # the modality of the samples it produces

    @property
    @abstractmethod
    def model_id(self) -> str:
        """Model id and checksum, recorded in provenance."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release the model."""
