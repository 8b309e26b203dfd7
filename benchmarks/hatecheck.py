"""The gate on HateCheck, a public functional test suite for hate speech: `make probe-gate` runs it.

    python benchmarks/hatecheck.py [--policy policies/default.yaml] [--misses N]

HateCheck (Röttger et al., ACL 2021; MIT licence, `benchmarks/data/hatecheck_LICENSE.txt`) holds
3,728 short English texts in 29 functionalities, each all hateful (`_h`: derogation, threats,
slurs, hate phrased as a question or an opinion, misspelt hate…) or all non-hateful (`_nh`: a
group mentioned neutrally or warmly, hate negated, hate quoted or referred to in order to
condemn it, reclaimed slurs, profanity, abuse aimed at an object, a person or a group that is
not a protected one), across seven target groups (women, trans people, gay people, Black people,
disabled people, Muslims, immigrants). Nobody writing modpipe's training texts or exemplars saw
it; it is a measurement, never training data.

Per functionality: the share the gate flags (any category at review or above) and the share
flagged in `hate`. HateCheck's own accuracy reads the `hate` column: a hateful case should be
flagged there, a non-hateful one should not. The policy has its own view of three non-hateful
functionalities: abuse aimed at a person (`target_indiv_nh`) is harassment and should be flagged,
only not as hate; the "any" column counts it. Then the binary AUPRC of the `hate` score and of the
decisions' `score`, hateful against non-hateful.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CASES = Path(__file__).resolve().parent / "data" / "hatecheck_cases.jsonl"


def main() -> int:
    from sklearn.metrics import average_precision_score

    from modpipe.pipeline import Pipeline

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--policy", type=Path, default=None)
    ap.add_argument("--misses", type=int, default=0, metavar="N", help="list N wrong cases per functionality")
    args = ap.parse_args()
    rows = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    pipeline = Pipeline.from_policy(args.policy)
    decisions = pipeline.gate_many([{"text": r["test_case"]} for r in rows])
    per: dict[str, list] = defaultdict(lambda: [0, 0, 0, []])  # functionality -> [flagged, hate, n, wrong]
    for r, d in zip(rows, decisions, strict=True):
        if d.error is not None:
            raise SystemExit(f"gate failed on case {r['case_id']}: {d.error.message}")
        hate = d.categories["hate"].action != "allow"
        s = per[r["functionality"]]
        s[0] += d.action != "allow"
        s[1] += hate
        s[2] += 1
        if hate != (r["label_gold"] == "hateful"):
            s[3].append(f"    hate={d.categories['hate'].score:.2f} {d.action:6s} {r['test_case']}")
    print(f"policy {pipeline.policy.name} {pipeline.loaded.hash[:19]}; "
          f"text scorer {pipeline.provenance.models.get('text', '?')}")
    print(f"{'functionality':22s} {'n':>4s} {'expected':>11s} {'flagged':>8s} {'in hate':>8s} {'accuracy':>9s}")
    right = {True: [0, 0], False: [0, 0]}
    for name in sorted(per, key=lambda f: (f.endswith("_nh"), f)):
        flagged, hate, n, wrong = per[name]
        hateful = not name.endswith("_nh")
        ok = hate if hateful else n - hate
        right[hateful][0] += ok
        right[hateful][1] += n
        print(f"{name:22s} {n:4d} {'hateful' if hateful else 'non-hateful':>11s} {flagged / n:8.3f} "
              f"{hate / n:8.3f} {ok / n:9.3f}")
        for line in wrong[: args.misses]:
            print(line)
    for hateful, (ok, n) in right.items():
        print(f"accuracy on {'hateful' if hateful else 'non-hateful'} cases: {ok / n:.3f} ({ok}/{n})")
    y = [r["label_gold"] == "hateful" for r in rows]
    print(f"binary AUPRC, hateful vs not: hate score {average_precision_score(y, [d.categories['hate'].score for d in decisions]):.3f}, "
          f"decisions' score {average_precision_score(y, [d.score for d in decisions]):.3f}")
    pipeline.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
