"""Per-category quality of a policy on cached, labelled items (sklearn.metrics underneath).

For each policy category, over the items whose `label_scope` covers it:
- ranking quality of the category score: AUPRC and recall at fixed false-positive rates;
- the operating points the policy actually uses: everything at or over `review_at` (flagged:
  review or block, including fail-closed reviews) and everything at `block_at` (blocked) —
  precision, recall, F1 and the confusion counts;
- the review-queue share: how many in-scope items this category sends to a human.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modpipe.tune.evaluate import CachedSet, Outcome

FPRS = (0.01, 0.02, 0.05)


@dataclass(frozen=True)
class Point:
    """Confusion at one operating point (flagged = predicted positive)."""

    tp: int
    fp: int
    fn: int
    tn: int
    precision: float
    recall: float
    f1: float
    fpr: float


@dataclass(frozen=True)
class CategoryMetrics:
    category: str
    n: int
    positives: int
    auprc: float | None  # None when the in-scope items are all one class
    recall_at_fpr: dict[float, float | None]
    review: Point  # action ≥ review (what reaches a human or is blocked)
    block: Point  # action = block
    review_share: float  # in-scope items this category sends to review


def point(y: np.ndarray, flagged: np.ndarray) -> Point:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    tn, fp, fn, tp = (int(x) for x in confusion_matrix(y, flagged, labels=[False, True]).ravel())
    p, r, f, _ = precision_recall_fscore_support(y, flagged, average="binary", zero_division=0)
    return Point(tp, fp, fn, tn, float(p), float(r), float(f), fp / (fp + tn) if fp + tn else 0.0)


def recall_at_fpr(y: np.ndarray, scores: np.ndarray, fpr: float) -> float | None:
    """Best recall over thresholds whose false-positive rate is ≤ `fpr`."""
    from sklearn.metrics import roc_curve

    if y.all() or not y.any():
        return None
    f, t, _ = roc_curve(y, scores, drop_intermediate=False)
    return float(t[f <= fpr + 1e-12].max())


def in_scope(cached: CachedSet, category: str) -> tuple[np.ndarray, np.ndarray]:
    """(mask of in-scope items, their labels for `category`)."""
    mask = np.array([it.in_scope(category) for it in cached.items], dtype=bool)
    y = np.array([it.positive(category) for it, m in zip(cached.items, mask, strict=True) if m], dtype=bool)
    return mask, y


def category_metrics(cached: CachedSet, out: Outcome) -> list[CategoryMetrics]:
    from sklearn.metrics import average_precision_score

    res: list[CategoryMetrics] = []
    for j, c in enumerate(out.categories):
        mask, y = in_scope(cached, c)
        if not mask.any():
            continue
        s, a = out.values[mask, j], out.actions[mask, j]
        both = bool(y.any() and not y.all())
        res.append(CategoryMetrics(
            category=c, n=int(mask.sum()), positives=int(y.sum()),
            auprc=float(average_precision_score(y, s)) if both else None,
            recall_at_fpr={f: recall_at_fpr(y, s, f) for f in FPRS},
            review=point(y, a >= 1), block=point(y, a >= 2),
            review_share=float((a == 1).mean()),
        ))
    return res


def queue_shares(out: Outcome) -> dict[str, float]:
    """Share of all items by overall action (the review share is the human queue)."""
    n = max(len(out.overall), 1)
    return {a: float((out.overall == k).sum() / n) for k, a in enumerate(("allow", "review", "block"))}


def _f(x: float | None) -> str:
    return "  –  " if x is None else f"{x:.3f}"


def format_table(ms: list[CategoryMetrics]) -> str:
    head = (f"{'category':15s} {'n':>6s} {'pos':>5s} {'AUPRC':>6s} {'R@1%':>6s} {'R@2%':>6s} {'R@5%':>6s} "
            f"│ {'P≥rev':>6s} {'R≥rev':>6s} {'F1≥rev':>6s} {'P@blk':>6s} {'R@blk':>6s} {'F1@blk':>6s} {'queue':>6s}")
    lines = [head, "─" * len(head)]
    for m in ms:
        r = m.recall_at_fpr
        lines.append(
            f"{m.category:15s} {m.n:6d} {m.positives:5d} {_f(m.auprc):>6s} {_f(r[0.01]):>6s} "
            f"{_f(r[0.02]):>6s} {_f(r[0.05]):>6s} │ {m.review.precision:6.3f} {m.review.recall:6.3f} "
            f"{m.review.f1:6.3f} {m.block.precision:6.3f} {m.block.recall:6.3f} {m.block.f1:6.3f} "
            f"{m.review_share:6.1%}")
    return "\n".join(lines)


def format_confusion(ms: list[CategoryMetrics]) -> str:
    lines = [f"{'category':15s} {'level':6s} {'TP':>6s} {'FP':>6s} {'FN':>6s} {'TN':>6s} {'FPR':>6s}"]
    for m in ms:
        for level, p in (("review", m.review), ("block", m.block)):
            lines.append(f"{m.category:15s} {level:6s} {p.tp:6d} {p.fp:6d} {p.fn:6d} {p.tn:6d} {p.fpr:6.3f}")
    return "\n".join(lines)
