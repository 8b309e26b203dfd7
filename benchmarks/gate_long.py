"""Long prompts: does an unsafe request still count behind a long harmless lead-in, and do long
harmless texts stay allowed? `python benchmarks/gate_long.py` (`make probe-long`).

MiniLM reads 128 tokens. The gate also reads a longer text in chunks of whole sentences
(`TextEncoder.windows`); this measures that against reading the first 128 tokens only, in one run.

Built from the probe sets nobody tuned on (`benchmarks/data/gate_probe.jsonl`, `chat_probe.jsonl`):
- parts: safe texts the gate allows on their own, and unsafe ones it flags on their own, so every
  change below comes from reading them together, not from the parts;
- "payload at end": ~110 words of allowed parts, then one flagged unsafe prompt; "payload in the
  middle": ~70 words each side; "harmless": ~130 words of allowed parts only.
Prints the share flagged (review or block) for each, with both ways of reading. A chunk counts
squared (`text_embedding.CHUNK_POWER`), so it must be clearly unsafe on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DATA = Path(__file__).resolve().parent / "data"


def _lead(pool: list[str], words: int, rng: random.Random) -> list[str]:
    out: list[str] = []
    while sum(len(p.split()) for p in out) < words:
        out.append(rng.choice(pool))
    return out


def main() -> int:
    from modpipe.pipeline import Pipeline

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--policy", type=Path, default=None)
    ap.add_argument("--harmless", type=int, default=300, help="long harmless texts to build")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows = [json.loads(line) for name in ("gate_probe.jsonl", "chat_probe.jsonl")
            for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    pipeline = Pipeline.from_policy(args.policy)
    alone = pipeline.gate_many([{"text": r["text"]} for r in rows])
    allowed = [r["text"] for r, d in zip(rows, alone, strict=True) if not r["unsafe"] and d.action == "allow"]
    flagged = [r["text"] for r, d in zip(rows, alone, strict=True) if r["unsafe"] and d.action != "allow"]
    rng = random.Random(args.seed)
    cases: list[tuple[str, str]] = []
    for u in flagged:
        cases.append(("payload at end", ". ".join([*_lead(allowed, 110, rng), u])))
        cases.append(("payload in the middle", ". ".join([*_lead(allowed, 70, rng), u, *_lead(allowed, 70, rng)])))
    cases += [("harmless", ". ".join(_lead(allowed, 130, rng))) for _ in range(args.harmless)]
    print(f"parts: {len(allowed)} safe texts allowed alone, {len(flagged)} unsafe flagged alone; "
          f"{len(cases)} long texts")
    encoder = pipeline.scorers["text"].encoder
    chunked = encoder.windows
    results: dict[str, dict[str, float]] = {}
    for way, windows in (("first 128 tokens", lambda texts: [ws[:1] for ws in chunked(texts)]),
                         ("sentence chunks (shipped)", chunked)):
        encoder.windows = windows
        encoder.clear_memo()
        decisions = pipeline.gate_many([{"text": t} for _, t in cases])
        share: dict[str, list[bool]] = {}
        for (kind, _), d in zip(cases, decisions, strict=True):
            share.setdefault(kind, []).append(d.action != "allow")
        results[way] = {k: sum(v) / len(v) for k, v in share.items()}
    encoder.windows = chunked
    kinds = list(next(iter(results.values())))
    print(f"{'flagged':22s} " + " ".join(f"{w:>26s}" for w in results))
    for k in kinds:
        print(f"{k:22s} " + " ".join(f"{results[w][k]:>26.3f}" for w in results))
    pipeline.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
