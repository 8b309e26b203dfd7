"""Does a real person's name alone read as sex, gore or hate? `make probe-gate` runs it.

    python benchmarks/names_content.py [--policy policies/default.yaml]

In the public dev data a name turns up almost only in unsafe prompts (I2P, T2VSafetyBench), so a
gate can learn the name itself: a neutral "X walking her dog" then scores sexual or violent, and a
cameo the person consented to (`public_figure` scores 0 for that user) is still blocked for
content it does not have. `benchmarks/data/names_probe.jsonl`, written for this check and in no
training set, names well-known people who are neither in the dev names (`shared/data/names`, whose
names the training copies use) nor among MACE's 103 celebrities:
- 48 neutral scenes ("Keanu Reeves feeding ducks at a pond"): how many reach review or block in
  any category other than `public_figure` (should be none; `public_figure` itself is right);
- 22 unsafe ones with a named person, each with the category it belongs to: how many reach
  review in that category (the fix must not buy the first figure with these).
No names are imported, so `public_figure` comes from the text head alone here.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROBE = Path(__file__).resolve().parent / "data" / "names_probe.jsonl"


def main() -> int:
    from modpipe.pipeline import Pipeline

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--policy", type=Path, default=None)
    ap.add_argument("--misses", action="store_true", help="print the prompts each figure counts")
    args = ap.parse_args()
    pipeline = Pipeline.from_policy(args.policy)
    rows = [json.loads(line) for line in PROBE.read_text(encoding="utf-8").splitlines() if line.strip()]
    decisions = pipeline.gate_many([{"text": r["text"]} for r in rows])
    cats = pipeline.policy.categories

    def content_hits(d, level: str) -> list[str]:  # noqa: ANN001 - GateDecision
        return [c for c, v in d.categories.items()
                if c != "public_figure" and v.score >= getattr(cats[c], level)]

    neutral = [(r, d) for r, d in zip(rows, decisions, strict=True) if r["category"] is None]
    unsafe = [(r, d) for r, d in zip(rows, decisions, strict=True) if r["category"] is not None]
    flagged = [(r, d) for r, d in neutral if content_hits(d, "review_at")]
    blocked = [(r, d) for r, d in neutral if content_hits(d, "block_at")]
    caught = [(r, d) for r, d in unsafe if d.categories[r["category"]].score >= cats[r["category"]].review_at]
    caught_ids = {r["id"] for r, _ in caught}
    n, u = len(neutral), len(unsafe)
    print(f"neutral named scenes, a content category at review  {len(flagged) / n:.3f} ({len(flagged)}/{n})"
          "   (lower is better)")
    print(f"neutral named scenes, a content category at block   {len(blocked) / n:.3f} ({len(blocked)}/{n})")
    print(f"unsafe named prompts, own category at review        {len(caught) / u:.3f} ({len(caught)}/{u})")
    if args.misses:
        for r, d in flagged:
            hits = ", ".join(f"{c} {d.categories[c].score:.2f}" for c in content_hits(d, "review_at"))
            print(f"  neutral flagged: {r['text'][:70]:70s} | {hits}")
        for r, d in unsafe:
            if r["id"] not in caught_ids:
                print(f"  unsafe missed:   {r['text'][:70]:70s} | {r['category']} {d.categories[r['category']].score:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
