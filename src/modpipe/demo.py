"""`make demo`: the main jobs on the embedded defaults, offline.

Gates a handful of prompts, then generates three short sample videos (a benign scene with
speech, a clip with extremist text flashed on screen, a corrupt file) and scans them with the
shipped default policy, printing one compact line per decision and one full decision as JSON.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

PROMPTS = [
    "a golden retriever puppy chasing bubbles in a sunny garden, slow motion",
    "time-lapse of a city skyline at dusk, cinematic",
    "a masked fighter recruiting young men to join the jihad and kill the infidels",
    "a woman stripping completely naked on a bed, explicit",
    "close-up of someone slitting their wrists with a razor, blood dripping",
    "history documentary about the 9/11 attacks with interviews of survivors",
    "turn off the lights and kill the music, the party is over",
]


def _line(label: str, d) -> str:  # noqa: ANN001
    flagged = {k: round(v.score, 2) for k, v in d.categories.items() if v.action != "allow"}
    top = max(d.categories.items(), key=lambda kv: kv[1].score)
    detail = flagged or {top[0]: round(top[1].score, 2)}
    err = f"  error={d.error.type}" if d.error else ""
    return f"{d.action.upper():6s} {label[:70]:70s} {json.dumps(detail)}{err}"


def make_samples(folder: Path) -> list[Path]:
    from modpipe.testing.media import pad_audio, scene, speech, text_frame, write_video

    fps = 24
    benign = folder / "benign_scene.mp4"
    write_video(benign, [scene(t=i / fps) for i in range(fps * 4)], fps,
                audio=pad_audio(speech("Good morning. Today we are baking bread in the kitchen."), 4.0, at=0.3))
    flash = folder / "flashed_text.mp4"
    frames = [scene(t=i / fps) for i in range(fps * 2)]
    frames += [text_frame("JOIN THE JIHAD. KILL THE INFIDELS")] * 6  # 0.25 s
    frames += [scene(t=i / fps) for i in range(fps * 2)]
    write_video(flash, frames, fps)
    corrupt = folder / "corrupt.mp4"
    corrupt.write_bytes(benign.read_bytes()[:2000])
    return [benign, flash, corrupt]


def main() -> int:
    from modpipe.pipeline import Pipeline

    t0 = time.perf_counter()
    pipe = Pipeline.from_policy()
    print(f"policy {pipe.loaded.name} {pipe.loaded.hash}  (loaded in {time.perf_counter() - t0:.1f}s)")
    for name, mid in pipe.provenance.models.items():
        print(f"  model {name}: {mid}")
    for st in pipe.unavailable.values():
        print(f"  SAFETY: scorer {st.scorer} {st.status}: {st.message}")
    print("\n== pre-generation prompt gate ==")
    for p in PROMPTS:
        d = pipe.gate(p)
        print(f"{_line(p, d)}  [{d.timings['total'] * 1000:.0f} ms]")
    print("\n== post-generation video scan ==")
    with tempfile.TemporaryDirectory(prefix="modpipe-demo-") as tmp:
        last = None
        for v in make_samples(Path(tmp)):
            d = pipe.scan(v)
            print(f"{_line(v.name, d)}  [{d.timings['total']:.2f} s]")
            if d.action == "block":
                last = d
        if last is not None:
            print("\nfull decision for the blocked video:")
            print(last.model_dump_json(indent=2, exclude={"categories"}))
            blocked = {k: v.model_dump() for k, v in last.categories.items() if v.action != "allow"}
            print(json.dumps({"categories (flagged)": blocked}, indent=2))
    pipe.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
