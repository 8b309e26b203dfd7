"""Scan speed: one 10 s 640×360 clip (two scenes, on-screen text for 3 s, espeak speech),
scanned by the default Pipeline, against the bare model calls on the same samples — in one run.

    python benchmarks/scan_bench.py [--runs 3]

Prints wall time per stage (median of the runs), the whole scan, the sum of the bare model calls
(NudeNet on the sampled frames, RapidOCR on the frames the pipeline read, faster-whisper on the
audio, MiniLM on the extracted text), the real-time factor (video seconds / scan seconds) and
the overhead ratio (scan / bare sum; below 1 means the concurrency wins back more than the
pipeline adds). Absolute times depend on the machine; the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

SECONDS, FPS = 10.0, 24


def make_clip(folder: Path) -> Path:
    from modpipe.testing.media import pad_audio, scene, speech, text_frame, write_video

    frames = []
    for i in range(int(SECONDS * FPS)):
        t = i / FPS
        img = scene(t=t, seed=0) if t < 5 else scene(t=t, seed=1)[:, ::-1].copy()  # a cut at 5 s
        if 6.0 <= t < 9.0:
            img = text_frame("SUBSCRIBE FOR MORE RECIPES", base=img)
        frames.append(img)
    said = "Welcome back to the kitchen. Today we bake a simple loaf of bread with flour, water and salt."
    return write_video(folder / "bench.mp4", frames, FPS, audio=pad_audio(speech(said), SECONDS, at=0.5))


def timed(fn, *args, **kw) -> float:  # noqa: ANN001
    t = time.perf_counter()
    fn(*args, **kw)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from modpipe.pipeline import Pipeline
    from modpipe.types import ScanTrace

    pipe = Pipeline.from_policy()
    pipe.load_extractors()
    with tempfile.TemporaryDirectory() as d:
        clip = make_clip(Path(d))
        pipe.scan(clip)  # warm-up: first calls allocate
        stages: dict[str, list[float]] = {}
        bare: dict[str, list[float]] = {}
        for _ in range(args.runs):
            trace = ScanTrace()
            dec = pipe.scan(clip, trace=trace)
            for k, v in dec.timings.items():
                stages.setdefault(k, []).append(v)
            frames = trace.prepared.frames
            ocr = pipe.extractors["ocr"]
            read = [f for f in frames if any(s.meta.get("frames", [-1])[0] == f.index for s in trace.text_samples)]
            import numpy as np

            bgr = [np.ascontiguousarray(f.image[:, :, ::-1]) for f in frames]
            calls = {
                "nudenet (sampled frames)": lambda: pipe.scorers["nudity"].detector.detect_batch(bgr, batch_size=8),
                "rapidocr (frames read)": lambda: [ocr.read(f.image) for f in read],
                "faster-whisper (audio)": lambda: list(pipe.extractors["asr"].segments(trace.prepared.audio)),
                "minilm (extracted text)": lambda: pipe.scorers["text"].encoder.forward([s.text for s in trace.text_samples]),
            }
            for k, fn in calls.items():
                bare.setdefault(k, []).append(timed(fn))
            bare.setdefault("rapidocr on every sampled frame (for reference)", []).append(
                timed(lambda: [ocr.read(f.image) for f in frames]))
    med = {k: statistics.median(v) for k, v in stages.items()}
    bmed = {k: statistics.median(v) for k, v in bare.items()}
    bare_sum = sum(v for k, v in bmed.items() if "reference" not in k)
    print(f"clip: {SECONDS:.0f} s 640x360 @ {FPS} fps, {len(frames)} frames sampled, "
          f"{len(trace.text_samples)} text samples; action={dec.action}; runs={args.runs} (median)")
    print(f"{'pipeline stage':40s} {'seconds':>8s}")
    for k in ("probe", "sample", "audio", "score_frames", "ocr", "asr", "score_text", "score", "total"):
        if k in med:
            print(f"  {k:38s} {med[k]:8.3f}")
    print(f"{'bare model call (same samples)':40s} {'seconds':>8s}")
    for k, v in bmed.items():
        print(f"  {k:38s} {v:8.3f}")
    print(f"  {'sum of bare calls':38s} {bare_sum:8.3f}")
    total = med["total"]
    print(f"real-time factor: {SECONDS / total:.2f}x  (video seconds per scan second; target >= 5x)")
    print(f"scan / bare-sum:  {total / bare_sum:.2f}  (ASR runs concurrently with frames + OCR)")
    pipe.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
