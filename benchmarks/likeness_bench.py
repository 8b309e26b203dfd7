"""Likeness throughput: faces per second and prompt names per second, with ratios in one run.

    python benchmarks/likeness_bench.py [--frames 20] [--prompts 2000]

faces: detection + 5-point landmarks + ResNet embedding on 640×360 frames that each show one
face (a real photo from ../shared/data when present, else skipped), at upsample 0 / 1 / 2;
ratio = full scorer (detection + embedding + gallery match) vs bare dlib detection at the same
upsample. names: prompts through the name matcher with ~400 imported names (../shared/data
names file, else generated names); ratio = matcher vs folding alone (the floor of any matcher).
Numbers on a shared machine are noisy: compare the ratios, re-run on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

DATA = next((p / "shared" / "data" for p in Path(__file__).resolve().parents[1:4]
             if (p / "shared" / "data").is_dir()), None)


def per_second(n: int, fn) -> float:  # noqa: ANN001
    t = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t)


def bench_faces(n_frames: int) -> None:
    from modpipe.likeness.faces import FaceEngine
    from modpipe.testing.media import photo, scene

    if DATA is None:
        print("faces: skipped (no ../shared/data face photos)")
        return
    pics = sorted((DATA / "media/images/deepface").glob("*.jpg"))[:5]
    rows = []
    for face_h in (40, 150):
        frames = [photo(pics[i % len(pics)], 640, 360, face_height=face_h, bg=scene(t=i)) for i in range(n_frames)]
        for up in (0, 1, 2):
            eng = FaceEngine(upsample=up)
            found = sum(len(f) for f in eng.faces(frames[:2]))  # warm-up + sanity
            det = per_second(n_frames, lambda: [eng.detector(f, up) for f in frames])
            full = per_second(n_frames, lambda: eng.faces(frames))
            rows.append((face_h, up, found, det, full))
    print(f"{'face px':>8} {'upsample':>8} {'found/2':>8} {'detect fps':>11} {'detect+embed fps':>17} {'ratio':>6}")
    for face_h, up, found, det, full in rows:
        print(f"{face_h * 2:>8} {up:>8} {found:>8} {det:>11.1f} {full:>17.1f} {full / det:>6.2f}")


def bench_names(n_prompts: int) -> None:
    from modpipe.likeness import names as nm

    if DATA is not None:
        recs = [json.loads(line) for line in (DATA / "names/public_figures.jsonl").read_text().splitlines()]
        people = [(r["id"], r["name"], "public_figure", r["aliases"]) for r in recs]
        texts = [json.loads(line)["text"] for src in ("vbench", "t2vsafetybench", "i2p")
                 for line in (DATA / f"text/{src}.jsonl").read_text().splitlines()]
    else:
        rng = np.random.default_rng(0)
        syl = ["ka", "lo", "mi", "ren", "tor", "vas", "quin", "bel", "dor", "sa"]
        people = [(f"p{i}", " ".join("".join(rng.choice(syl, 3)).title() for _ in range(2)), "public_figure", [])
                  for i in range(400)]
        texts = [f"a cinematic shot of {people[i % 400][1] if i % 5 == 0 else 'a dog'} running on a beach at dusk"
                 for i in range(1000)]
    texts = (texts * (n_prompts // len(texts) + 1))[:n_prompts]
    t = time.perf_counter()
    m = nm.NameMatcher(people)
    build = time.perf_counter() - t
    m.find(texts[0])
    fold = per_second(len(texts), lambda: [nm.fold_for_matching(x) for x in texts])
    find = per_second(len(texts), lambda: [m.find(x) for x in texts])
    chars = sum(map(len, texts)) / len(texts)
    print(f"names: {len(people)} people, {m.n_keys} keys, index built in {build:.2f} s; "
          f"{len(texts)} prompts (mean {chars:.0f} chars)")
    print(f"{'fold only /s':>13} {'match /s':>10} {'ratio':>6}")
    print(f"{fold:>13.0f} {find:>10.0f} {find / fold:>6.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--prompts", type=int, default=2000)
    a = ap.parse_args()
    from modpipe.resources import configure_threads

    configure_threads(1)
    bench_names(a.prompts)
    bench_faces(a.frames)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
