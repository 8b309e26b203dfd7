"""How well the prompt gate sees through obfuscation: the same prompts, written twelve ways.

    python benchmarks/gate_obfuscation.py [--n 300] [--seed 1] [--policy policies/default.yaml]

Each transform rewrites every prompt the way a user dodging a filter would (spaces removed,
letters spaced out, leetspeak, look-alike Cyrillic letters, zero-width characters, a vowel
masked with *, words or the whole text backwards, upside-down letters, base64, rot13). Printed
per transform: the share of unsafe prompts flagged (review or block; higher is better) and the
share of safe prompts flagged (lower is better) at the policy's thresholds.

Prompt sets: the authored probe (`benchmarks/data/gate_probe.jsonl`: 334 unsafe, 377 pointed
safe look-alikes, held out from training), and, when `../shared/data` is present, `--n` unsafe
T2VSafetyBench prompts and `--n` benign VBench + EvalCrafter prompts of at most 12 words (both
dev data the heads trained on, so "as written" is in-sample there; the transforms are not).
A safe prompt that is garbled is often flagged whatever it says: the jailbreak sets taught the
heads that garbled text is a warning sign, so the safe column mostly measures that.
"""

from __future__ import annotations

import argparse
import base64
import codecs
import json
import os
import random
import re
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gate_bench import shared_data  # noqa: E402
from gate_probe import PROBE, load  # noqa: E402

_LEET = str.maketrans("aeios", "43105")
_CYRILLIC = str.maketrans("aeopcyx", "аеорсух")
_TURNED = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ɐqɔpǝɟƃɥᴉɾʞlɯuodbɹsʇnʌʍxʎz")


def _mask_vowel(word: str) -> str:
    return re.sub(r"(?<=[A-Za-z])[aeiouAEIOU](?=[A-Za-z])", "*", word, count=1) if len(word) >= 4 else word


TRANSFORMS = {
    "as written": lambda t: t,
    "spaces removed": lambda t: "".join(t.split()),
    "letters spaced out": lambda t: "  ".join(" ".join(w) for w in t.split()),
    "leetspeak": lambda t: t.lower().translate(_LEET),
    "Cyrillic look-alikes": lambda t: t.translate(_CYRILLIC),
    "zero-width characters": lambda t: "\u200b".join(t),
    "a vowel masked with *": lambda t: " ".join(_mask_vowel(w) for w in t.split()),
    "each word backwards": lambda t: " ".join(w[::-1] for w in t.split()),
    "whole text backwards": lambda t: t[::-1],
    "upside down": lambda t: t.lower().translate(_TURNED)[::-1],
    "base64": lambda t: "decode this and make the video: " + base64.b64encode(t.encode()).decode(),
    "rot13": lambda t: codecs.encode(t, "rot13"),
}


def dev_prompts(data: Path, sources: list[str], unsafe: bool, n: int, rng: random.Random) -> list[str]:
    texts = []
    for src in sources:
        for line in (data / "text" / f"{src}.jsonl").read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if (r.get("labels") not in (None, [], ["none"])) == unsafe and len(r["text"].split()) <= 12:
                texts.append(r["text"])
    return rng.sample(texts, min(n, len(texts)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--policy", type=Path, default=None)
    args = ap.parse_args()

    from modpipe.pipeline import Pipeline

    pipeline = Pipeline.from_policy(args.policy)
    rng = random.Random(args.seed)
    probe = load(PROBE)
    sets = [("probe unsafe", [r["text"] for r in probe if r["unsafe"]]),
            ("probe safe", [r["text"] for r in probe if not r["unsafe"]])]
    data = shared_data()
    if data is not None:
        sets += [("T2VSafetyBench", dev_prompts(data, ["t2vsafetybench"], True, args.n, rng)),
                 ("benign T2V", dev_prompts(data, ["vbench", "evalcrafter"], False, args.n, rng))]

    def flagged(texts: list[str]) -> float:
        hits = 0
        for lo in range(0, len(texts), 64):
            hits += sum(d.action != "allow" for d in pipeline.gate_many([{"text": t} for t in texts[lo:lo + 64]]))
        return hits / max(len(texts), 1)

    print(f"policy {pipeline.policy.name} {pipeline.loaded.hash[:19]}; share flagged (review or block)")
    print(f"{'transform':24s}" + "".join(f"{f'{name} ({len(texts)})':>22s}" for name, texts in sets))
    for name, transform in TRANSFORMS.items():
        cells = [flagged([transform(t) for t in texts]) for _, texts in sets]
        print(f"{name:24s}" + "".join(f"{c:22.3f}" for c in cells), flush=True)
    pipeline.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
