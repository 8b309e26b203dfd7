"""Ingest: the only stage that touches input files. Probe, open and decode media (PyAV, with
OpenCV as the fallback), and extract the audio track for ASR."""

from modpipe.ingest.media import backend_for, iter_frames, load_audio, probe

__all__ = ["backend_for", "iter_frames", "load_audio", "probe"]
