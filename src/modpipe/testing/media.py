"""Make small test videos: scenes, on-screen text, real photos, espeak-ng speech — in seconds.

`write_video(path, frames, fps, audio=None)` encodes RGB frames (H.264 via PyAV) and muxes an
optional mono 16 kHz waveform as AAC. `speech(text)` synthesises real speech with espeak-ng.
Used by the tests, `make demo` and the benchmarks, so every one of them is reproducible offline.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterable
from pathlib import Path

import numpy as np


def scene(width: int = 640, height: int = 360, t: float = 0.0, seed: int = 0) -> np.ndarray:
    """A benign moving scene: sky gradient, ground, a sun and a drifting box."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height)[:, None]
    img = np.zeros((height, width, 3), np.uint8)
    img[..., 0] = (90 + 80 * y).astype(np.uint8)
    img[..., 1] = (150 + 60 * y).astype(np.uint8)
    img[..., 2] = (230 - 40 * y).astype(np.uint8)
    img[int(height * 0.7):, :] = (70, 140, 60)
    import cv2

    cv2.circle(img, (int(width * 0.8), int(height * 0.2)), height // 10, (250, 230, 90), -1)
    x = int((0.1 + 0.05 * t) * width) % width
    cv2.rectangle(img, (x, int(height * 0.55)), (x + width // 8, int(height * 0.72)), (150, 60, 40), -1)
    noise = rng.integers(0, 6, size=img.shape, dtype=np.uint8)
    return np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def text_frame(text: str, width: int = 640, height: int = 360, bg: tuple = (20, 20, 20),
               fg: tuple = (255, 255, 255), base: np.ndarray | None = None) -> np.ndarray:
    """`text` drawn large and centred (wrapped), on a plain background or over `base`."""
    import cv2

    img = base.copy() if base is not None else np.full((height, width, 3), bg, np.uint8)
    words, lines, cur = text.split(), [], ""
    font, scale, thick = cv2.FONT_HERSHEY_DUPLEX, height / 300, max(2, height // 150)
    for w in words:
        trial = f"{cur} {w}".strip()
        if cv2.getTextSize(trial, font, scale, thick)[0][0] > width * 0.9 and cur:
            lines.append(cur)
            cur = w
        else:
            cur = trial
    lines.append(cur)
    lh = int(cv2.getTextSize("Ag", font, scale, thick)[0][1] * 1.8)
    y0 = height // 2 - lh * (len(lines) - 1) // 2
    for i, line in enumerate(lines):
        tw = cv2.getTextSize(line, font, scale, thick)[0][0]
        cv2.putText(img, line, ((width - tw) // 2, y0 + i * lh), font, scale, fg, thick, cv2.LINE_AA)
    return img


def photo(path: str | Path, width: int = 640, height: int = 360, face_height: int | None = None,
          bg: np.ndarray | None = None) -> np.ndarray:
    """A photo letterboxed into a frame; with `face_height`, scaled to roughly that height."""
    import cv2
    from PIL import Image

    im = np.asarray(Image.open(path).convert("RGB"))
    h, w = im.shape[:2]
    target_h = face_height * 2 if face_height else height
    s = min(target_h / h, width / w)
    im = cv2.resize(im, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA)
    out = bg.copy() if bg is not None else np.full((height, width, 3), 40, np.uint8)
    ih, iw = im.shape[:2]
    y, x = (height - ih) // 2, (width - iw) // 2
    out[y:y + ih, x:x + iw] = im
    return out


def speech(text: str, rate: int = 16000, wpm: int = 150) -> np.ndarray:
    """Real synthetic speech (espeak-ng) as float32 mono at `rate` Hz."""
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as d:
        wav = Path(d) / "s.wav"
        subprocess.run([exe, "-s", str(wpm), "-w", str(wav), text], check=True, capture_output=True)
        with wave.open(str(wav)) as w:
            sr = w.getframerate()
            data = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768
    if sr != rate:
        n = int(len(data) * rate / sr)
        data = np.interp(np.linspace(0, len(data) - 1, n), np.arange(len(data)), data).astype(np.float32)
    return data


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = 24.0,
                audio: np.ndarray | None = None, audio_rate: int = 16000) -> Path:
    """Encode RGB frames (H.264, yuv420p) and optional mono float32 audio (AAC) to MP4."""
    import av

    path = Path(path)
    frames = list(frames)
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=round(fps))
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.options = {"preset": "ultrafast", "crf": "23"} if v.codec_context.name == "libx264" else {}
        a = None
        if audio is not None:
            a = out.add_stream("aac", rate=audio_rate)
            a.layout = "mono"
        for img in frames:
            for pkt in v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                out.mux(pkt)
        for pkt in v.encode():
            out.mux(pkt)
        if a is not None:
            pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)[None, :]
            frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            frame.sample_rate = audio_rate
            for pkt in a.encode(frame):
                out.mux(pkt)
            for pkt in a.encode():
                out.mux(pkt)
    return path


def pad_audio(audio: np.ndarray, seconds: float, rate: int = 16000, at: float = 0.0) -> np.ndarray:
    """Place `audio` at `at` seconds inside silence lasting `seconds`."""
    out = np.zeros(int(seconds * rate), np.float32)
    start = int(at * rate)
    seg = audio[: max(0, len(out) - start)]
    out[start:start + len(seg)] = seg
    return out
