"""Videos per second: `run_batch` (Ray Data) vs a sequential loop of `Pipeline.scan`, one run.

    python benchmarks/batch_bench.py [--clips 40] [--seconds 4] [--concurrency 1] [--batch-size 4]

Same clips, same (default) policy, same machine, measured back to back. Printed:
  sequential   model load, then scan each clip in turn
  batch        `run_batch` on 1 clip (Ray start + actor model load + 1 video) and on all clips
  ratio        batch / sequential videos per second, steady state (start-up of both excluded:
               batch rate = (N-1) / (T_N - T_1)) and end to end (start-up included)
  overhead     what Ray adds per job (T_1 batch - load - scan of 1 clip) and per video
Numbers on a shared machine are noisy: the ratio is the figure to read (target ≥ 1.7× on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def make_clips(folder: Path, n: int, seconds: float) -> list[Path]:
    from modpipe.testing.media import scene, write_video

    fps = 24
    paths = []
    for i in range(n):
        frames = [scene(640, 360, t=k / fps, seed=i) for k in range(int(seconds * fps))]
        paths.append(write_video(folder / f"clip{i:03d}.mp4", frames, fps=fps))
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=4)
    args = ap.parse_args()

    from modpipe.batch import run_batch
    from modpipe.pipeline import Pipeline

    with tempfile.TemporaryDirectory(prefix="modpipe-batch-bench-") as tmp:
        root = Path(tmp)
        (root / "clips").mkdir()
        (root / "one").mkdir()
        clips = make_clips(root / "clips", args.clips, args.seconds)
        os.link(clips[0], root / "one" / clips[0].name)

        t = time.perf_counter()
        pipe = Pipeline.from_policy()
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        one_s = pipe.scan(clips[0]).timings["total"]
        for c in clips[1:]:
            pipe.scan(c)
        seq_s = time.perf_counter() - t
        pipe.close()
        del pipe

        kw = {"concurrency": args.concurrency, "batch_size": args.batch_size, "progress": False}
        t = time.perf_counter()
        run_batch(str(root / "one"), root / "out1", **kw)
        b1_s = time.perf_counter() - t
        t = time.perf_counter()
        s = run_batch(str(root / "clips"), root / "outN", **kw)
        bn_s = time.perf_counter() - t
        assert s["records"] == args.clips and s["missing"] == 0

    n = args.clips
    seq_vps, seq_e2e = n / seq_s, n / (load_s + seq_s)
    batch_vps, batch_e2e = (n - 1) / max(bn_s - b1_s, 1e-9), n / bn_s
    rows = [
        ("sequential Pipeline.scan", f"{load_s:.1f}", f"{seq_s:.1f}", f"{seq_vps:.2f}", f"{seq_e2e:.2f}"),
        (f"modpipe batch (c={args.concurrency}, bs={args.batch_size})", f"{b1_s:.1f} (1 clip)",
         f"{bn_s:.1f}", f"{batch_vps:.2f}", f"{batch_e2e:.2f}"),
    ]
    print(f"{n} clips of {args.seconds:g} s, 640x360 @24 fps, default policy, {os.cpu_count()} CPUs")
    print(f"{'':34s} {'start-up s':>16s} {'all clips s':>12s} {'videos/s':>9s} {'e2e v/s':>8s}")
    for r in rows:
        print(f"{r[0]:34s} {r[1]:>16s} {r[2]:>12s} {r[3]:>9s} {r[4]:>8s}")
    print(f"ratio batch/sequential, steady state: {batch_vps / seq_vps:.2f}x   (target >= 1.7x)")
    print(f"ratio batch/sequential, start-up included: {batch_e2e / seq_e2e:.2f}x")
    print(f"Ray overhead per job: {b1_s - load_s - one_s:.1f} s (batch on 1 clip {b1_s:.1f} s vs "
          f"load {load_s:.1f} s + scan {one_s:.2f} s); per video in steady state: "
          f"{1 / batch_vps - 1 / seq_vps:+.3f} s")


if __name__ == "__main__":
    main()
