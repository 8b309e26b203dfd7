"""Sample: choose which frames the scorers see (uniform + change-aware), keeping timestamps."""

from modpipe.sample.frames import sample_frames

__all__ = ["sample_frames"]
