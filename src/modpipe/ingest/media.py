"""Open, probe and decode media: PyAV (its wheels carry FFmpeg), OpenCV as the fallback.

Errors are mapped here, where they enter: a missing file, zero bytes, an unreadable container
and a file without a video stream each raise a specific `MediaError`; a few corrupt packets
are counted and skipped until `max_errors`, after which decoding stops with a `MediaError`.

When PyAV cannot open a file that OpenCV can (OpenCV has its own readers, e.g. MJPEG AVI and
image sequences), the OpenCV backend takes over with the same contract: `probe()` and
`iter_frames()` yield frames with `to_ndarray(format=..., width=..., height=...)`, so the
sampler converts to RGB only the frames it keeps. `load_audio()` decodes the first audio stream
to mono float32 at 16 kHz (what ASR wants); a file without audio gives None.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from modpipe.errors import EmptyMediaError, MediaError, NotVideoError
from modpipe.types import MediaInfo

log = logging.getLogger(__name__)

AUDIO_RATE = 16_000
BACKENDS = ("pyav", "opencv")

# FFmpeg demuxers that "decode" plain text or subtitles into frames: not videos.
_TEXT_FORMATS = frozenset({"tty", "ansi", "txt", "srt", "ass", "webvtt", "subviewer", "jacosub", "mpl2"})


def _check_file(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise MediaError(f"no such file: {p}")
    if p.is_dir():
        raise MediaError(f"is a directory, not a media file: {p}")
    if p.stat().st_size == 0:
        raise EmptyMediaError(f"empty file (0 bytes): {p}")
    return p


def _open(path: str | Path):  # noqa: ANN202 - av.container.InputContainer
    import av

    p = _check_file(path)
    try:
        return av.open(str(p), metadata_errors="ignore")
    except av.error.InvalidDataError:
        raise MediaError(
            f"cannot read {p.name}: invalid data (truncated, corrupt, or not a media file)"
        ) from None
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot open {p.name}: {exc}") from None


def _video_stream(c, path: str | Path):  # noqa: ANN001, ANN202
    if not c.streams.video or c.format.name in _TEXT_FORMATS:
        raise NotVideoError(f"no video stream in {Path(path).name} (format: {c.format.name})")
    return c.streams.video[0]


def backend_for(path: str | Path) -> str:
    """'pyav' when PyAV opens the file, else 'opencv' when OpenCV does; else the PyAV error."""
    try:
        with _open(path) as c:
            _video_stream(c, path)
        return "pyav"
    except NotVideoError:
        raise
    except MediaError as exc:
        if isinstance(exc, EmptyMediaError) or not _cv_opens(path):
            raise
        log.warning("PyAV cannot open %s; using OpenCV", Path(path).name)
        return "opencv"


def probe(path: str | Path, backend: str | None = None) -> MediaInfo:
    """Duration, size, fps and streams, without decoding frames."""
    if (backend or backend_for(path)) == "opencv":
        return _cv_probe(path)
    with _open(path) as c:
        v = _video_stream(c, path)
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


class _Errors:
    """Counts decode errors and gives up past the limit (PySceneDetect's habit)."""

    def __init__(self, path: str | Path, limit: int) -> None:
        self.name, self.limit, self.count = Path(path).name, limit, 0

    def add(self, what: str, exc: BaseException) -> None:
        self.count += 1
        log.warning("%s error %d in %s: %s", what, self.count, self.name, type(exc).__name__)
        if self.count > self.limit:
            raise MediaError(f"too many decode errors ({self.count}) in {self.name}") from None


def iter_frames(path: str | Path, max_errors: int = 25, backend: str | None = None,
                ) -> Iterator[tuple[float, object]]:
    """Yield (pts seconds, frame) for every decodable frame, skipping bad packets.

    Timestamps come from presentation timestamps, not frame counts (VFR-safe). A frame is
    converted only on request: `frame.to_ndarray(format="rgb24" | "gray", width=, height=)`.
    """
    if (backend or backend_for(path)) == "opencv":
        yield from _cv_frames(path)
        return
    import av

    errors = _Errors(path, max_errors)
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
                errors.add("demux", exc)
                continue
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                errors.add("decode", exc)
                continue
            for frame in frames:
                pts = frame.pts if frame.pts is not None else packet.pts
                t = float((pts - start) * tb) if pts is not None else decoded / float(stream.average_rate or 25)
                decoded += 1
                yield max(t, 0.0), frame
        if decoded == 0:
            raise EmptyMediaError(f"no decodable video frame in {Path(path).name}")


def load_audio(path: str | Path, rate: int = AUDIO_RATE) -> np.ndarray | None:
    """The first audio stream as mono float32 at `rate` Hz; None when the file has no audio."""
    import av

    with _open(path) as c:
        if not c.streams.audio:
            return None
        stream = c.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks: list[np.ndarray] = []
        try:
            for frame in c.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            raise MediaError(f"cannot decode the audio of {Path(path).name}: {type(exc).__name__}") from None
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


# ------------------------------------------------------------------------ the OpenCV backend


def _cv_capture(path: str | Path):  # noqa: ANN202 - cv2.VideoCapture
    import cv2

    cap = cv2.VideoCapture(str(_check_file(path)))
    if not cap.isOpened():
        cap.release()
        raise MediaError(f"cannot open {Path(path).name} with OpenCV")
    return cap


def _cv_opens(path: str | Path) -> bool:
    try:
        cap = _cv_capture(path)
    except MediaError:
        return False
    ok, _ = cap.read()
    cap.release()
    return bool(ok)


def _cv_probe(path: str | Path) -> MediaInfo:
    import cv2

    cap = _cv_capture(path)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        backend = cap.getBackendName()
    finally:
        cap.release()
    return MediaInfo(
        path=str(path), duration_s=round(n / fps, 3) if fps > 0 else 0.0, width=w, height=h,
        fps=round(fps, 3), frame_count=n or None, has_audio=False,  # OpenCV reads no audio
        container=f"opencv:{backend}",
    )


class _CvFrame:
    """A BGR frame from OpenCV with PyAV's `to_ndarray` conversions (only on request)."""

    def __init__(self, bgr: np.ndarray) -> None:
        self.bgr = bgr

    def to_ndarray(self, format: str = "rgb24", width: int | None = None,  # noqa: A002
                   height: int | None = None) -> np.ndarray:
        import cv2

        img = self.bgr
        if width and height:
            img = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
        code = {"rgb24": cv2.COLOR_BGR2RGB, "gray": cv2.COLOR_BGR2GRAY}[format]
        return cv2.cvtColor(img, code)


def _cv_frames(path: str | Path) -> Iterator[tuple[float, _CvFrame]]:
    import cv2

    cap = _cv_capture(path)
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0) or 25.0
    decoded = 0
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            pos_ms = cap.get(cv2.CAP_PROP_POS_MSEC)  # the timestamp of the frame just read
            t = pos_ms / 1000.0 if decoded == 0 or pos_ms > 0 else decoded / fps
            decoded += 1
            yield max(t, 0.0), _CvFrame(bgr)
    finally:
        cap.release()
    if decoded == 0:
        raise EmptyMediaError(f"no decodable video frame in {Path(path).name}")
