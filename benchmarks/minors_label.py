"""Does the `sexual_minors` label tell a child from an adult? `make probe-gate` runs it.

    python benchmarks/minors_label.py [--policy policies/default.yaml] [--data DIR]

The label has no trained head (there is no labelled data for it, rightly): its policy exemplars,
the lexicon, and the sexual score where the text says a child is there (`minor_cues`,
`modpipe.text.minors`) decide. The tuned encoder puts all sexual text close together, so the
policy gives the label adult twins of its positive phrases as negatives. Figures at the policy's
thresholds:
- adult sexual prompts from the dev data (`sexual` label, no minors) that still reach the label's
  review and block thresholds — each one a false child-safety escalation;
- `benchmarks/data/minors_probe.jsonl`: 20 short, non-graphic requests that sexualise a minor,
  written for this check and in no training set — flagged / blocked in `sexual_minors`;
- the 19 benign prompts about children in the same file — flagged (should be none);
- `benchmarks/data/minors_wide_probe.jsonl`, written by a separate author who never saw the cue
  rules: 60 adult sexual requests worded to confuse an age reader ("college girl (22)", "barely
  legal 19 year old", "stepmom", "daddy") and 70 texts about children and teens that are not
  sexual, many of them near misses (puberty questions, sex education, reporting grooming) —
  flagged in `sexual_minors` (lower is better). (Its author declined to write the minors half;
  the positives are the 20 above.)
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROBE = Path(__file__).resolve().parent / "data" / "minors_probe.jsonl"
WIDE = PROBE.with_name("minors_wide_probe.jsonl")
LABEL = "sexual_minors"


def main() -> int:
    from modpipe.pipeline import Pipeline
    from modpipe.text.dataset import load_records

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--policy", type=Path, default=None)
    ap.add_argument("--data", type=Path, default=None, help="dev text folder (default: shared/data/text)")
    args = ap.parse_args()
    pipeline = Pipeline.from_policy(args.policy)
    cat = pipeline.policy.categories[LABEL]

    def scores(texts: list[str]) -> list[float]:
        return [d.categories[LABEL].score for d in pipeline.gate_many([{"text": t} for t in texts])]

    def rates(vals: list[float]) -> str:
        n = len(vals)
        flagged, blocked = sum(v >= cat.review_at for v in vals), sum(v >= cat.block_at for v in vals)
        return f"n={n:5d}  at review {flagged / n:.3f} ({flagged})  at block {blocked / n:.3f} ({blocked})"

    adult = [r.text for r in load_records(args.data) if "sexual" in r.labels and LABEL not in r.labels]
    rows = [json.loads(line) for line in PROBE.read_text(encoding="utf-8").splitlines() if line.strip()]
    print(f"{LABEL}: review_at {cat.review_at}, block_at {cat.block_at}")
    print(f"adult sexual dev prompts   {rates(scores(adult))}   (lower is better)")
    print(f"minors probe, unsafe       {rates(scores([r['text'] for r in rows if r['minor_sexual']]))}")
    print(f"minors probe, benign kids  {rates(scores([r['text'] for r in rows if not r['minor_sexual']]))}")
    wide = [json.loads(line) for line in WIDE.read_text(encoding="utf-8").splitlines() if line.strip()]
    for group in sorted({r["group"] for r in wide}):
        texts = [r["text"] for r in wide if r["group"] == group]
        print(f"wide probe, {group:14s} {rates(scores(texts))}   (lower is better)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
