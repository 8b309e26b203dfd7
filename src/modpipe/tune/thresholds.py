"""Choose `review_at` / `block_at` per category for a target, honestly, and write a valid policy.

Targets: `precision=0.95`, `recall=0.9`, `fpr=0.01`, optionally prefixed by the level they set
(`block:precision=0.95`, `review:recall=0.9`). Without a prefix, precision and fpr targets set
`block_at` (automatic blocks must be right) and recall targets set `review_at` (the human queue
must catch what matters).

Honesty: items are split in two folds by a hash of their id (stable across runs). The threshold
is chosen on the tuning fold only, where it must meet the target with a margin (a Wilson bound,
not the point estimate); the figure reported is what the *written* policy achieves on the
held-out fold, decided with the live aggregate/decide code. An unreachable target leaves the
threshold unchanged and says so.

The new policy is the original YAML with only the threshold numbers rewritten where ruamel.yaml
locates them (comments, order, layout untouched; one header comment names the target), then
re-loaded through `parse_policy` and checked before it is written (atomically).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modpipe.errors import InputError, PolicyError
from modpipe.policy import LoadedPolicy, parse_policy
from modpipe.tune.evaluate import CachedSet, decide_all
from modpipe.tune.metrics import Point, in_scope, point

METRICS = ("precision", "recall", "fpr")


@dataclass(frozen=True)
class Target:
    level: str  # "review" | "block"
    metric: str  # "precision" | "recall" | "fpr"
    value: float

    @classmethod
    def parse(cls, text: str) -> Target:
        level, _, rest = text.rpartition(":")
        metric, eq, num = rest.partition("=")
        try:
            value = float(num)
        except ValueError:
            value = -1.0
        if not eq or metric not in METRICS or not 0.0 <= value <= 1.0 or level not in ("", "review", "block"):
            raise InputError(f"bad target {text!r}: use [review:|block:]precision|recall|fpr=VALUE, "
                             "VALUE in [0, 1]")
        return cls(level or ("review" if metric == "recall" else "block"), metric, value)

    def __str__(self) -> str:
        return f"{self.level}:{self.metric}={self.value:g}"


@dataclass(frozen=True)
class Choice:
    category: str
    target: Target
    old: float
    new: float | None  # None: target unreachable on the tuning fold, threshold kept
    tune_achieved: float | None
    heldout: Point | None  # the written policy at this level, on the held-out fold
    note: str = ""

    def heldout_value(self) -> float | None:
        if self.heldout is None:
            return None
        return getattr(self.heldout, self.target.metric)


def heldout_mask(cached: CachedSet) -> np.ndarray:
    """True for the held-out fold (half the items, by a stable hash of the id)."""
    return np.array([hashlib.sha256(it.id.encode()).digest()[0] & 1 == 1 for it in cached.items], dtype=bool)


Z = 1.0  # one-sided ≈84% Wilson bound: a threshold must meet the target with this margin


def _wilson(k: np.ndarray, n: np.ndarray, lower: bool) -> np.ndarray:
    """Wilson score bound of a proportion k/n (lower or upper), z = `Z`."""
    n = np.maximum(n, 1e-12)
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * np.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return centre - half if lower else centre + half


def choose(y: np.ndarray, s: np.ndarray, t: Target) -> tuple[float, float] | None:
    """(threshold, achieved figure) on these labels/scores; flagged means score ≥ threshold.

    The threshold must meet the target with a margin (the Wilson bound of the figure, not the
    point estimate), so that it still holds on unseen items: a threshold that barely reaches
    precision 0.95 on one fold usually lands just under it on the next.
    """
    from sklearn.metrics import precision_recall_curve, roc_curve

    if not y.any() or y.all():
        return None
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if t.metric == "fpr":
        f, _, thr = roc_curve(y, s, drop_intermediate=False)
        ok = (_wilson(f * n_neg, np.full(len(f), n_neg), lower=False) <= t.value) & np.isfinite(thr)
        if not ok.any():
            return None
        i = np.flatnonzero(ok)[np.argmin(thr[ok])]
        return float(thr[i]), float(f[i])
    p, r, thr = precision_recall_curve(y, s)
    p, r = p[:-1], r[:-1]  # the last point has no threshold
    tp = np.rint(r * n_pos)
    if t.metric == "precision":
        fig, bound = p, _wilson(tp, np.rint(tp / np.maximum(p, 1e-12)), lower=True)
    else:
        fig, bound = r, _wilson(tp, np.full(len(r), n_pos), lower=True)
    ok = bound >= t.value
    if not ok.any():
        return None
    # precision: lowest qualifying threshold (most recall); recall: highest (least load)
    i = np.flatnonzero(ok)[np.argmin(thr[ok]) if t.metric == "precision" else np.argmax(thr[ok])]
    return float(thr[i]), float(fig[i])


def tune(cached: CachedSet, loaded: LoadedPolicy, targets: list[Target], categories: list[str] | None,
         yaml_text: str) -> tuple[str, LoadedPolicy, list[Choice]]:
    """Chosen thresholds → (new YAML text, its loaded policy, per-category choices)."""
    pol = loaded.policy
    cats = categories or list(pol.categories)
    for c in cats:
        if c not in pol.categories:
            raise InputError(f"unknown category {c!r}; the policy has: {', '.join(pol.categories)}")
    held = heldout_mask(cached)
    base = decide_all(cached, loaded)
    new: dict[str, dict[str, float]] = {}
    pending: list[tuple[str, Target, float | None, float | None, str]] = []
    for c in cats:
        j = base.categories.index(c)
        mask, _ = in_scope(cached, c)
        tune_m = mask & ~held
        y = np.array([cached.items[i].positive(c) for i in np.flatnonzero(tune_m)], dtype=bool)
        cat = pol.categories[c]
        levels = {"review": cat.review_at, "block": cat.block_at}
        for t in targets:
            got = choose(y, base.values[tune_m, j], t)
            if got is None:
                why = "no labelled positives and negatives in scope" if not y.any() or y.all() else "unreachable"
                pending.append((c, t, None, None, why))
                continue
            thr = round(min(max(got[0], 0.0), 1.0), 4)
            levels[t.level] = thr
            pending.append((c, t, thr, got[1], ""))
        targeted = {t.level for t in targets}
        if levels["review"] > levels["block"]:  # keep review_at ≤ block_at: move the untargeted one
            if "block" in targeted:
                levels["review"] = levels["block"]
            else:
                levels["block"] = levels["review"]
        new[c] = levels
    text = edit_thresholds(yaml_text, new, header=f"thresholds tuned by `modpipe tune thresholds` for "
                           f"{', '.join(map(str, targets))} from policy {loaded.hash[:19]}")
    tuned = parse_policy(text, source="<tuned policy>")
    for c, lv in new.items():
        got_c = tuned.policy.categories[c]
        if (got_c.review_at, got_c.block_at) != (lv["review"], lv["block"]):
            raise PolicyError(f"tuned policy did not keep the thresholds of {c!r}")
    after = decide_all(cached, tuned)
    choices = []
    for c, t, thr, achieved, note in pending:
        j = after.categories.index(c)
        mask, _ = in_scope(cached, c)
        hm = mask & held
        yh = np.array([cached.items[i].positive(c) for i in np.flatnonzero(hm)], dtype=bool)
        a = after.actions[hm, j]
        hp = point(yh, a >= (2 if t.level == "block" else 1)) if len(yh) else None
        old = getattr(pol.categories[c], f"{t.level}_at")
        written = getattr(tuned.policy.categories[c], f"{t.level}_at")
        if thr is not None and written != thr:
            note = f"moved to {written} to keep review_at ≤ block_at"
        choices.append(Choice(c, t, old, thr, achieved, hp, note))
    return text, tuned, choices


def audience_warnings(tuned: LoadedPolicy) -> list[str]:
    """Audience overrides (not tuned here) that are now looser than the tuned base thresholds."""
    out = []
    for c, cat in tuned.policy.categories.items():
        for aud, th in cat.audiences.items():
            if th.review_at > cat.review_at or th.block_at > cat.block_at:
                out.append(f"categories.{c}.audiences.{aud} ({th.review_at}/{th.block_at}) is now looser than "
                           f"the tuned base ({cat.review_at}/{cat.block_at}); tune it with that audience's data")
    return out


def edit_thresholds(yaml_text: str, new: dict[str, dict[str, float]], header: str) -> str:
    """Set categories.C.review_at / block_at in the YAML text, changing nothing else.

    ruamel.yaml finds where each value sits (line, column); only that number is rewritten, so
    comments, layout and every other byte of the original file stay as they were.
    """
    import re

    from ruamel.yaml import YAML

    doc = YAML().load(yaml_text)  # round-trip mode records each value's position
    lines = yaml_text.splitlines(keepends=True)
    for c, lv in new.items():
        node = doc["categories"][c]
        for key, value in (("review_at", lv["review"]), ("block_at", lv["block"])):
            if key not in node:
                raise PolicyError(f"categories.{c}.{key} not found in the policy text")
            line, col = node.lc.value(key)
            text = lines[line]
            m = re.compile(r"[^\s,}\]#]+").match(text, col)
            if m is None:
                raise PolicyError(f"cannot locate categories.{c}.{key} (line {line + 1})")
            lines[line] = text[: m.start()] + f"{value:g}" + text[m.end():]
    return f"# {header}\n" + "".join(lines)


def format_choices(choices: list[Choice]) -> str:
    def f(x: float | None) -> str:
        return "  –  " if x is None else f"{x:.3f}"

    lines = [f"{'category':15s} {'target':22s} {'old':>6s} {'new':>6s} {'tune':>6s} {'held-out':>8s} "
             f"{'P(ho)':>6s} {'R(ho)':>6s} {'FPR(ho)':>7s}  note"]
    for ch in choices:
        h = ch.heldout
        lines.append(
            f"{ch.category:15s} {str(ch.target):22s} {ch.old:6.3f} {f(ch.new):>6s} {f(ch.tune_achieved):>6s} "
            f"{f(ch.heldout_value()):>8s} {f(h.precision if h else None):>6s} {f(h.recall if h else None):>6s} "
            f"{f(h.fpr if h else None):>7s}  {ch.note or ('kept' if ch.new is None else '')}")
    return "\n".join(lines)


def read_policy_text(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read policy: {exc}", source=str(path)) from None
