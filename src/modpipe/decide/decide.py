"""Turn aggregated category values into actions; fail closed when a scorer could not run.

- `block` if score ≥ block_at, else `review` if score ≥ review_at, else `allow`;
- a category fed by a scorer that failed or timed out is at least its `on_unavailable` action
  (`review` by default, `block` where the policy says so), with the reason stated;
- a scorer that is *unavailable* (no weights) fails closed the same way, unless its policy spec
  says `if_unavailable: fallback` and the category has another signal that ran — then the
  category decides on the rest and the decision still lists the scorer as unavailable;
- an extractor (ASR, OCR) that failed on a video makes the categories its text feeds at least
  their `on_unavailable` action, with the reason stated; a prompt in a language the text models
  cannot read (status `unread`) makes the categories the encoder feeds at least the policy's
  `languages.unread` action;
- the overall action is the strictest category action (block > review > allow); an input error
  is `review` (never a silent allow);
- the overall `score` ranks decisions on one scale for a review queue or a precision-recall
  curve: each category's score mapped piecewise-linearly so that its `review_at` lands on 0.5 and
  its `block_at` on 0.75 (thresholds differ by category and audience, raw scores do not compare),
  raised to 0.5 / 0.75 where the category's action is review / block whatever its score
  (fail-closed), the highest over categories; an input error makes it at least 0.5. So
  `score ≥ 0.5` exactly when the action is not allow, and `score ≥ 0.75` exactly when it blocks.
"""

from __future__ import annotations

from typing import Any

from modpipe.aggregate.temporal import Aggregated, aggregate, index_scores
from modpipe.policy.schema import Category, Policy, Thresholds
from modpipe.types import CategoryResult, Decision, ErrorInfo, Provenance, Score, ScorerStatus, max_action


def decide_category(
    name: str, cat: Category, th: Thresholds, agg: Aggregated, policy: Policy,
    statuses: dict[str, ScorerStatus],
) -> CategoryResult:
    if agg.value >= th.block_at:
        action = "block"
    elif agg.value >= th.review_at:
        action = "review"
    else:
        action = "allow"
    reasons = list(agg.reasons)
    feeding = policy.feeding[name]
    ran = feeding.difference(statuses)
    for scorer in sorted(feeding.intersection(statuses)):
        st = statuses[scorer]
        fallback = (
            st.status == "unavailable"
            and policy.scorers[scorer].if_unavailable == "fallback"
            and ran
        )
        if not fallback:
            action = max_action(action, cat.on_unavailable)
            reasons.append(f"scorer {scorer!r} {st.status}: {st.message} → fail closed ({cat.on_unavailable})")
    for st in statuses.values():  # extractors (asr, ocr) and the prompt's language: the status names them
        if st.scorer not in policy.scorers and name in st.categories:
            floor = cat.on_unavailable
            if st.status == "unread":  # scores made without the encoder, so never less than review
                floor = "review" if policy.languages.unread == "as_written" else policy.languages.unread
            action = max_action(action, floor)
            reasons.append(f"{'language' if st.status == 'unread' else 'extractor ' + repr(st.scorer)} "
                           f"{st.status}: {st.message} → fail closed ({floor})")
    if not feeding:
        action = max_action(action, cat.on_unavailable)
        reasons.append("every scorer feeding this category is disabled → fail closed")
    return CategoryResult(
        score=agg.value, action=action, review_at=th.review_at, block_at=th.block_at,
        segments=agg.segments if action != "allow" else [], reasons=reasons,
    )


ACTION_BAND = {"allow": (0.0, 0.4999), "review": (0.5, 0.7499), "block": (0.75, 1.0)}  # score's range per action


def scale(score: float, review_at: float, block_at: float) -> float:
    """A category score on the common scale: 0 → 0, review_at → 0.5, block_at → 0.75, 1 → 1,
    linear in between (plain floats: it runs for every category of every decision; `make
    eval-gate` maps arrays through `np.vectorize(scale)`)."""
    if score < review_at:
        mapped = 0.5 * score / review_at
    elif score < block_at:
        mapped = 0.5 + 0.25 * (score - review_at) / (block_at - review_at)
    else:
        mapped = 0.75 + 0.25 * (score - block_at) / (1.0 - block_at) if block_at < 1.0 else 0.75
    return min(max(mapped, 0.0), 1.0)


def risk(res: CategoryResult) -> float:
    """One category on the common scale, kept inside its action's band: a fail-closed review
    lifts it to 0.5, and float rounding just under a threshold cannot carry it over."""
    lo, hi = ACTION_BAND[res.action]
    return min(max(scale(res.score, res.review_at, res.block_at), lo), hi)


def overall_score(categories: dict[str, CategoryResult], error: bool = False) -> float:
    score = max((risk(c) for c in categories.values()), default=0.0)
    return round(max(score, 0.5) if error else score, 4)  # the bands end at 0.4999 / 0.7499: rounding keeps them


def overall_action(categories: dict[str, CategoryResult], error: bool = False) -> str:
    action = max_action(*(c.action for c in categories.values()))
    return max_action(action, "review") if error else action


def decide(policy: Policy, provenance: Provenance, kind: str, scores: list[Score],
           statuses: dict[str, ScorerStatus], audience: str | None, *,
           error: ErrorInfo | None = None, **fields: Any) -> Decision:
    """Scores (+ scorer statuses) → Decision, for any policy. Loads no model, so tuning and
    `policy diff` can re-decide cached scores under a new policy in microseconds."""
    categories: dict[str, CategoryResult] = {}
    reasons: list[str] = []
    index = index_scores(scores)
    for cname, cat in policy.categories.items():
        th = cat.thresholds(audience)
        res = decide_category(cname, cat, th, aggregate(cat, th, index), policy, statuses)
        categories[cname] = res
        if res.action != "allow":  # "<": sent there whatever its score (fail closed), the reason says why
            at = th.block_at if res.action == "block" else th.review_at
            reasons.append(f"{cname}: {res.action} (score {res.score:.2f} {'≥' if res.score >= at else '<'} {at})"
                           + (f"; {res.reasons[-1]}" if res.reasons else ""))
    for st in statuses.values():
        reasons.append(f"SAFETY: scorer {st.scorer!r} {st.status} ({st.message}); "
                       f"affects {', '.join(st.categories) or 'no category'}")
    if error is not None:
        reasons.insert(0, f"input error ({error.type}): {error.message} → review")
    action = overall_action(categories, error=error is not None)
    return Decision(
        kind=kind, action=action, score=overall_score(categories, error=error is not None),
        categories=categories, reasons=reasons, error=error,
        scorers=list(statuses.values()), audience=audience, provenance=provenance, **fields,
    )
