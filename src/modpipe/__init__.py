"""modpipe: moderation pipeline for AI-generated video.

    ingest ─► sample ─► extract ─► score ─► aggregate ─► decide ─► report

`import modpipe` is light (no torch); models load when a `Pipeline` is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from modpipe.pipeline import Pipeline

__all__ = ["Pipeline", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Pipeline":
        from modpipe.pipeline import Pipeline

        return Pipeline
    raise AttributeError(name)
