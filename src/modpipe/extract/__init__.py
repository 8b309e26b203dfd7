"""Extract: models that turn a video's audio and frames into text samples (speech, on-screen
text), which the policy's text scorers score like prompts. See `extract.base` for the contract."""

from modpipe.extract.base import Extractor

__all__ = ["Extractor"]
