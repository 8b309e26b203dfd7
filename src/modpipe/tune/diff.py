"""`policy diff`: which cached items would change decision between two policies, and how.

Both policies re-decide the same cached raw scores with the live aggregate/decide code; an item
is listed when its overall action or any category action differs. Output names item ids; texts
only when the caller asks (`--show-text`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from modpipe.policy import LoadedPolicy
from modpipe.tune.evaluate import ACTIONS, CachedSet, decide_all


@dataclass
class PolicyDiff:
    n: int
    overall: Counter = field(default_factory=Counter)  # "allow→block" → count
    per_category: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    examples: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))  # transition → item idx
    flipped: list[int] = field(default_factory=list)  # items whose overall action changed
    warnings: list[str] = field(default_factory=list)


def diff(cached: CachedSet, old: LoadedPolicy, new: LoadedPolicy, audience: str | None = None) -> PolicyDiff:
    a, b = decide_all(cached, old, audience), decide_all(cached, new, audience)
    d = PolicyDiff(n=len(cached), warnings=sorted(set(a.warnings) | set(b.warnings)))
    for i in np.flatnonzero(a.overall != b.overall):
        t = f"{ACTIONS[a.overall[i]]}→{ACTIONS[b.overall[i]]}"
        d.overall[t] += 1
        d.examples[t].append(int(i))
        d.flipped.append(int(i))
    for c in sorted(set(a.categories) | set(b.categories)):
        ja = a.categories.index(c) if c in a.categories else None
        jb = b.categories.index(c) if c in b.categories else None
        xa = a.actions[:, ja] if ja is not None else np.zeros(len(cached), dtype=np.int8)
        xb = b.actions[:, jb] if jb is not None else np.zeros(len(cached), dtype=np.int8)
        for i in np.flatnonzero(xa != xb):
            d.per_category[c][f"{ACTIONS[xa[i]]}→{ACTIONS[xb[i]]}"] += 1
    return d


def format_diff(d: PolicyDiff, cached: CachedSet, examples: int = 5, show_text: bool = False) -> str:
    lines = [f"{len(d.flipped)} of {d.n} items change overall decision"]
    for t, k in d.overall.most_common():
        ids = [cached.items[i].id for i in d.examples[t][:examples]]
        lines.append(f"  {t:14s} {k:6d}   e.g. {', '.join(ids)}")
        if show_text:
            lines += [f"      {cached.items[i].id}: {cached.items[i].input}" for i in d.examples[t][:examples]]
    lines.append("per category (category action changes):")
    if not d.per_category:
        lines.append("  none")
    for c, cnt in d.per_category.items():
        lines.append(f"  {c:15s} " + ", ".join(f"{t} {k}" for t, k in cnt.most_common()))
    return "\n".join(lines)
