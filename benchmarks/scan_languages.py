"""On-screen text in other languages: scan rendered signs with and without translation.

    python benchmarks/scan_languages.py [--probe benchmarks/data/onscreen_probe.jsonl] [--misses]

`benchmarks/data/onscreen_probe.jsonl` holds 120 signs and captions (Spanish, French, Portuguese
and Italian; 22 harmless and 8 unsafe each) written for this by one author from a one-page brief,
never trained on. Each is drawn over a moving scene (`modpipe.testing.media`, 2 s at 24 fps;
OpenCV's font has no accents, so they are dropped) and the clip is scanned by the default policy
twice, with `MODPIPE_TRANSLATE=off` and `read`. Prints, per language and mode, the unsafe texts
caught (review or block) and the harmless ones flagged, and how many decisions the translation
changed; `--misses` lists them. `benchmarks/data/onscreen_dev.jsonl` (120 more, another author)
is the set the handling of unsure translations was chosen on. Any JSONL with `text`, `lang` and
`unsafe` works as `--probe` (e.g. English captions, as a control: nothing should change).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import unicodedata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROBE = Path(__file__).resolve().parent / "data" / "onscreen_probe.jsonl"


def render(rows: list[dict], folder: Path) -> list[Path]:
    from modpipe.testing.media import scene, text_frame, write_video

    paths = []
    for i, r in enumerate(rows):
        text = unicodedata.normalize("NFKD", r["text"]).encode("ascii", "ignore").decode()
        frames = [text_frame(text, base=scene(t=k / 24, seed=i)) for k in range(48)]
        paths.append(write_video(folder / f"{i}.mp4", frames, 24))
    return paths


def rates(rows: list[dict], flagged: list[bool], lang: str | None) -> str:
    idx = [i for i, r in enumerate(rows) if lang is None or r["lang"] == lang]
    unsafe = [flagged[i] for i in idx if rows[i]["unsafe"]]
    safe = [flagged[i] for i in idx if not rows[i]["unsafe"]]
    caught = f"{sum(unsafe) / len(unsafe):.2f}" if unsafe else "  – "
    return f"{caught} / {sum(safe) / max(len(safe), 1):.2f}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe", type=Path, default=PROBE)
    ap.add_argument("--misses", action="store_true")
    args = ap.parse_args()
    from modpipe.pipeline import Pipeline
    from modpipe.settings import Settings

    rows = [json.loads(line) for line in args.probe.read_text(encoding="utf-8").splitlines() if line.strip()]
    langs = sorted({r["lang"] for r in rows})
    actions: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="modpipe-scan-langs-") as tmp:
        paths = render(rows, Path(tmp))
        for mode in ("off", "read"):
            pipe = Pipeline.from_policy(settings=Settings(translate=mode))
            actions[mode] = [pipe.scan(p).action for p in paths]
    print(f"{len(rows)} rendered clips; unsafe caught / harmless flagged (review or block)")
    print(f"{'':14s}" + "".join(f"{lang:>14s}" for lang in [*langs, "all"]))
    for mode in ("off", "read"):
        flagged = [a != "allow" for a in actions[mode]]
        print(f"{mode:14s}" + "".join(f"{rates(rows, flagged, lang):>14s}" for lang in [*langs, None]))
    changed = [i for i in range(len(rows)) if actions["off"][i] != actions["read"][i]]
    print(f"decisions changed by translation: {len(changed)}")
    if args.misses:
        for i in changed:
            r = rows[i]
            print(f"  {r['lang']} {'unsafe' if r['unsafe'] else 'safe  '} {actions['off'][i]:>6s} → "
                  f"{actions['read'][i]:<6s} {r['text'][:70]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
