"""Open and probe media with PyAV (its wheels carry FFmpeg); count decode errors, don't die.

Errors are mapped here, where they enter: a missing file, zero bytes, an unreadable container
and a file without a video stream each raise a specific `MediaError`; a few corrupt packets
are counted and skipped until `max_errors`, after which decoding stops with a `MediaError`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

from modpipe.errors import EmptyMediaError, MediaError, NotVideoError
from modpipe.types import MediaInfo

log = logging.getLogger(__name__)


def _open(path: str | Path):  # noqa: ANN202 - av.container.InputContainer
    import av

    p = Path(path)
    if not p.exists():
        raise MediaError(f"no such file: {p}")
    if p.is_dir():
        raise MediaError(f"is a directory, not a media file: {p}")
    if p.stat().st_size == 0:
        raise EmptyMediaError(f"empty file (0 bytes): {p}")
    try:
        return av.open(str(p), metadata_errors="ignore")
    except av.error.InvalidDataError:
        raise MediaError(
            f"cannot read {p.name}: invalid data (truncated, corrupt, or not a media file)"
        ) from None
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot open {p.name}: {exc}") from None


# FFmpeg demuxers that "decode" plain text or subtitles into frames: not videos.
_TEXT_FORMATS = frozenset({"tty", "ansi", "txt", "srt", "ass", "webvtt", "subviewer", "jacosub", "mpl2"})


def _video_stream(c, path: str | Path):  # noqa: ANN001, ANN202
    if not c.streams.video or c.format.name in _TEXT_FORMATS:
        raise NotVideoError(f"no video stream in {Path(path).name} (format: {c.format.name})")
    return c.streams.video[0]


def probe(path: str | Path) -> MediaInfo:
    """Duration, size, fps and streams, without decoding frames."""
    with _open(path) as c:
        _video_stream(c, path)
        v = c.streams.video[0]
        fps = float(v.average_rate or v.guessed_rate or 0) or 0.0
        if v.duration is not None and v.time_base is not None:
            duration = float(v.duration * v.time_base)
        elif c.duration is not None:
            duration = c.duration / 1_000_000
        else:
            duration = 0.0
        audio = c.streams.audio[0] if c.streams.audio else None
        return MediaInfo(
            path=str(path), duration_s=round(duration, 3), width=v.codec_context.width,
            height=v.codec_context.height, fps=round(fps, 3), frame_count=v.frames or None,
            has_audio=audio is not None, video_codec=v.codec_context.name,
            audio_codec=audio.codec_context.name if audio else None, container=c.format.name,
        )


def iter_frames(path: str | Path, max_errors: int = 25) -> Iterator[tuple[float, object]]:
    """Yield (pts seconds, av.VideoFrame) for every decodable frame, skipping bad packets.

    Timestamps come from presentation timestamps, not frame counts (VFR-safe).
    """
    import av

    errors = 0
    with _open(path) as c:
        stream = _video_stream(c, path)
        stream.thread_type = "AUTO"
        tb = stream.time_base or Fraction(1, 1000)
        start = stream.start_time or 0
        decoded = 0
        demux = c.demux(stream)
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                break
            except av.error.FFmpegError as exc:
                errors += 1
                log.warning("demux error %d in %s: %s", errors, Path(path).name, exc)
                if errors > max_errors:
                    raise MediaError(f"too many decode errors ({errors}) in {Path(path).name}") from None
                continue
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                errors += 1
                log.warning("decode error %d in %s: %s", errors, Path(path).name, exc)
                if errors > max_errors:
                    raise MediaError(f"too many decode errors ({errors}) in {Path(path).name}") from None
                continue
            for frame in frames:
                pts = frame.pts if frame.pts is not None else packet.pts
                t = float((pts - start) * tb) if pts is not None else decoded / float(stream.average_rate or 25)
                decoded += 1
                yield max(t, 0.0), frame
        if decoded == 0:
            raise EmptyMediaError(f"no decodable video frame in {Path(path).name}")
