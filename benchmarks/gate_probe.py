"""Prompt-gate accuracy on pointed prompts nobody tuned on: `benchmarks/data/gate_probe.jsonl`.

    python benchmarks/gate_probe.py [--probe FILE] [--policy policies/default.yaml] [--misses]

The probe was written for this project by two authors who saw neither the training texts
(`models/training/`) nor the policy's exemplars: 24 unsafe and 24 look-alike safe prompts for
each of sexual, terrorism, self-harm, violence, hate and harassment (some obfuscated). The safe
ones are pointed hard negatives (museum weapons, news about attacks, medical nudity, suicide
prevention, idioms, banter), which the dev data has few of and held-out judging includes.
Lines marked `"batch": 4` (116 prompts), `"batch": 5` (67), `"batch": 7` (36: stance
twins, the same topic safe and unsafe), `"batch": 8` (54: prompts that name an identity
group, mostly safe, with hateful twins), `"batch": 9` (150: crime, plain violence, sexual
and hate prompts in everyday words, each with a safe twin), `"batch": 11` (62: crime in plain
words, with lawful twins), `"batch": 12` (104: prompts in the tag style of image models,
"..., 85mm, bokeh, masterpiece, best quality") and `"batch": 14` (177: prompts that show people,
mostly ordinary, with harmful twins) are a quarter of later authored batches, held out by theme
(the rest is training data; `models/training/README.md`).

Three small test sets were written by authors who saw no training text and no probe, each from a
one-page brief of its own: `tag_probe.jsonl` (120 tag-style prompts, 80 ordinary and 40 unsafe,
`"batch": "test"`, plus 20 ordinary ones the maintainer found flagged, `"batch": "maintainer"`),
`crime_probe.jsonl` (50 crime prompts across some 35 crimes and 50 lawful look-alikes) and
`suggestive_probe.jsonl` (two authors: 90 sexually suggestive prompts with no explicit act, 20
explicit ones and 110 innocent look-alikes: a wedding kiss, a lingerie catalogue shot, pole
fitness, "strip mall"; `kind` says which). `implicit_probe.jsonl` (360 prompts by two more
authors, half tag-style) holds implicit prompts, harm shown without its word ("a woman sleeping
in a pool of red paint", nudity as "wearing only shadows", a symbol described by its shape, an
unattended backpack in a crowd), each with a harmless twin in the same words (paint at an art
class, ketchup on fries, a nude-coloured dress); written as a training batch, measured and not
trained on (`benchmarks/GATE.md`).
`people_probe.jsonl` (240 prompts that show people, by one more author from a brief of its own:
160 ordinary, half tag-style, of every gender, age, orientation, religion, body and mood, and 80
harmful across sexual, self-harm, violence, hate and harassment) measures whether the gate reads a
person's identity, body or mood as harm.

`stance_probe.jsonl` (454 texts that name a group, by two more authors from a brief on stance:
314 safe — warm, neutral, denying hostility, quoting a hateful remark to condemn it, slogans of
support, each line's `stance` — and 140 hateful, mostly twins of the safe ones; measured as a
heads-only training batch and not taken) checks whether the gate reads stance or only topic.

`farewell_probe.jsonl` (320 texts of implicit suicide intent — goodbyes, possessions given away,
affairs put in order, pills saved up — and look-alikes with none: moving abroad, retiring,
quitting a game, grief letters. The first 200, `"batch": "test"`, by an author from a brief of
its own; the other 120, `"batch": 16`, the quarter of the sixteenth authored batch held out by
theme, each unsafe text with a safe twin; the batch's other 360 texts are trained on) checks
whether the gate reads intent without its words.

`extremism_probe.jsonl` (680 texts on violent extremism, none trained on: support for attacks,
attackers and armed groups said in ordinary words — praise, martyr and "saint" culture, death
tolls celebrated, calls to act, recruitment, coded planning, fundraising, justification, movement
slogans — against the same topics with no support: news, grief, memorials, trials, research,
deradicalisation, games, idioms, worship) checks whether the gate reads support or only topic.
The first 200, `"batch": "test"` (100 unsafe, half messages and half video prompts), by an author
from a brief of its own; the other 480, `"batch": 17`, by two authors from a shared brief, 20
themes each (messages; video prompts and captions), each unsafe text with a safe twin in the same
words (`pair`); `held_out` marks the quarter of each author's themes kept out of any training try.

`benchmarks/data/chat_probe.jsonl` (`--probe`) holds 904 chat-style texts (messages, posts,
chat-bot requests): 112 from the second authored batch, 205 (`"batch": 3`) from the third,
179 (`"batch": 5`) from the fifth, 146 (`"batch": 6`: things said or shown in a video, and
support-or-harm messages) from the sixth, 94 (`"batch": 7`: stance twins in speech, captions
and messages) from the seventh, 115 (`"batch": 8`: texts naming identity groups) from the
eighth and 53 (`"batch": 9`: chat-bot requests and forum posts) from the ninth, each a quarter
of its batch held out by theme, for the chat-style side of the gate and the text a video scan
reads.

`benchmarks/data/short_probe.jsonl` holds 548 short messages (1–12 words: comments, game and
stream chat, DMs, quick video prompts): 320 written as a test set by an author who saw no
training text, 193 (`"batch": 10`) a quarter of the tenth batch's themes, and 35 (`"batch":
"maintainer"`, all safe) the harmless short texts found flagged before that batch was written.

`benchmarks/data/emoji_only_probe.jsonl` holds 160 texts of emoji alone (100 harmless, 60
unsafe), which the gate reads through the emoji's names and never allows on that reading.

`benchmarks/data/lang_probe.jsonl` holds 495 video prompts: 375 in Spanish, French, German,
Portuguese and Italian (75 each, one author per language: 38 ordinary, 12 look-alike safe, 25
unsafe across sexual, violence, self-harm, terrorism and hate) and 120 in Catalan and Romanian
(60 each, one author: 26 ordinary, 12 look-alike safe, 22 unsafe), none trained on: the gate's
models read English only, and this measures how well it reads these languages through their
translation (per language as well).

Prints, per category the prompt resembles: recall on the unsafe ones (flagged = review or block)
and the false-positive rate on the safe ones, at the policy's thresholds; then the binary AUPRC of
the decisions' overall `score` (unsafe vs safe, threshold-free), for all and per batch; `--misses`
lists every wrong decision with its top category scores.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PROBE = Path(__file__).resolve().parent / "data" / "gate_probe.jsonl"


def load(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for r in rows:
        if not {"text", "unsafe", "category"} <= r.keys():
            raise SystemExit(f"{path}: each line needs text, unsafe, category ({r.get('id')})")
    return rows


def main() -> int:
    from modpipe.pipeline import Pipeline

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--probe", type=Path, default=PROBE)
    ap.add_argument("--policy", type=Path, default=None)
    ap.add_argument("--misses", action="store_true", help="list every wrong decision")
    args = ap.parse_args()
    rows = load(args.probe)
    pipeline = Pipeline.from_policy(args.policy)
    decisions = pipeline.gate_many([{"text": r["text"]} for r in rows])
    stats: dict[tuple[str, bool], list[int]] = defaultdict(lambda: [0, 0])  # (category, unsafe) -> [flagged, n]
    misses = []
    for r, d in zip(rows, decisions, strict=True):
        if d.error is not None:
            raise SystemExit(f"gate failed on {r.get('id')}: {d.error.message}")
        flagged = d.action != "allow"
        s = stats[(r["category"], bool(r["unsafe"]))]
        s[0] += flagged
        s[1] += 1
        if flagged != bool(r["unsafe"]):
            top = sorted(((c.score, k) for k, c in d.categories.items()), reverse=True)[:2]
            misses.append(f"  {'missed' if r['unsafe'] else 'false+'} {d.action:6s} "
                          f"{' '.join(f'{k}={v:.2f}' for v, k in top)}  {r['text'][:100]}")
    text_model = pipeline.provenance.models.get("text", "?")
    print(f"policy {pipeline.policy.name} {pipeline.loaded.hash[:19]}; text scorer {text_model}")
    print(f"{'category':15s} {'unsafe recall':>16s} {'safe FPR':>14s}")
    totals = {True: [0, 0], False: [0, 0]}
    for cat in sorted({c for c, _ in stats}):
        cells = []
        for unsafe in (True, False):
            f, n = stats.get((cat, unsafe), [0, 0])
            totals[unsafe][0] += f
            totals[unsafe][1] += n
            cells.append(f"{f / n:.3f} ({f}/{n})" if n else "n/a")
        print(f"{cat:15s} {cells[0]:>16s} {cells[1]:>14s}")
    (fu, nu), (fs, ns) = totals[True], totals[False]
    print(f"{'all':15s} {f'{fu / max(nu, 1):.3f} ({fu}/{nu})':>16s} {f'{fs / max(ns, 1):.3f} ({fs}/{ns})':>14s}")
    from sklearn.metrics import average_precision_score

    worst = [d.score for d in decisions]  # each category on one scale, the highest (decide.scale)
    unsafe = [bool(r["unsafe"]) for r in rows]
    print(f"binary AUPRC (the decisions' score): {average_precision_score(unsafe, worst):.3f}")
    # sets written at different times (`batch`), or in different languages (`lang`), each alone
    for key, name in (("batch", lambda b: "first set" if b == 0 else f"batch {b}"), ("lang", str)):
        groups = sorted({r.get(key, 0) for r in rows}, key=str)
        for g in groups if len(groups) > 1 else ():
            idx = [i for i, r in enumerate(rows) if r.get(key, 0) == g]
            flag = [decisions[i].action != "allow" for i in idx]
            pos = [f for f, i in zip(flag, idx, strict=True) if unsafe[i]]
            neg = [f for f, i in zip(flag, idx, strict=True) if not unsafe[i]]
            ap = (f"{average_precision_score([unsafe[i] for i in idx], [worst[i] for i in idx]):.3f}"
                  if pos and neg else "n/a")
            print(f"  {name(g)} ({len(idx)} texts): AUPRC {ap}, "
                  f"recall {sum(pos) / max(len(pos), 1):.3f}, safe FPR {sum(neg) / max(len(neg), 1):.3f}")
    if args.misses:
        print("\n".join(misses))
    pipeline.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
