"""Ingest: the only stage that touches input files. Probe, open and decode media (PyAV)."""

from modpipe.ingest.media import iter_frames, probe

__all__ = ["iter_frames", "probe"]
