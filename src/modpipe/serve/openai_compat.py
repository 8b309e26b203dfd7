"""modpipe decisions → OpenAI moderation results (`POST /v1/moderations`).

The mapping is data: each OpenAI category lists the modpipe categories that feed it; its score is
the highest of theirs and it is `true` when any of them is not `allow`. Categories a policy does
not have score 0 and are `false`. The table (also in the README):

    OpenAI category           modpipe categories (default policy)
    sexual                    sexual, sexual_minors
    sexual/minors             sexual_minors
    harassment                harassment
    harassment/threatening    —   (harassment is not split by threat; see `harassment`)
    hate                      hate
    hate/threatening          —   (hate is not split by threat; see `hate`)
    illicit                   terrorism
    illicit/violent           terrorism
    self-harm                 self_harm
    self-harm/intent          —   (self_harm is not split by intent/instructions; see `self-harm`)
    self-harm/instructions    —
    violence                  violence_gore, terrorism
    violence/graphic          violence_gore

`public_figure` (likeness of real people) has no OpenAI counterpart: it appears only in the
extra `modpipe` field of each result. `flagged` is modpipe's overall verdict (`review` or
`block`), so a fail-closed decision (scorer failure, timeout, bad image) is flagged even when no
OpenAI category is true — a client that checks `flagged` never lets it through silently.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from modpipe.types import Decision, Modality

OPENAI_CATEGORIES: dict[str, tuple[str, ...]] = {
    "sexual": ("sexual", "sexual_minors"),
    "sexual/minors": ("sexual_minors",),
    "harassment": ("harassment",),
    "harassment/threatening": (),
    "hate": ("hate",),
    "hate/threatening": (),
    "illicit": ("terrorism", "illegal_activity"),
    "illicit/violent": ("terrorism",),
    "self-harm": ("self_harm",),
    "self-harm/intent": (),
    "self-harm/instructions": (),
    "violence": ("violence_gore", "terrorism"),
    "violence/graphic": ("violence_gore",),
}


def unmapped(policy_categories: Iterable[str]) -> list[str]:
    """modpipe categories of a policy that no OpenAI category reports (only in `modpipe`)."""
    mapped = {c for cats in OPENAI_CATEGORIES.values() for c in cats}
    return [c for c in policy_categories if c not in mapped]


def image_categories(pipeline) -> set[str]:  # noqa: ANN001 - Pipeline; kept import-light
    """modpipe categories fed by a scorer that looks at reference images."""
    return {
        name for name, cat in pipeline.policy.categories.items()
        if any(sig.scorer in pipeline.scorers and Modality.IMAGE in pipeline.scorers[sig.scorer].modalities
               for sig in cat.signals)
    }


def moderation_result(d: Decision, *, has_text: bool, has_images: bool,
                      image_cats: set[str]) -> dict:
    categories: dict[str, bool] = {}
    scores: dict[str, float] = {}
    applied: dict[str, list[str]] = {}
    for name, ours in OPENAI_CATEGORIES.items():
        present = [d.categories[c] for c in ours if c in d.categories]
        categories[name] = any(r.action != "allow" for r in present)
        scores[name] = max((r.score for r in present), default=0.0)
        kinds = ["text"] if has_text and present else []  # nothing scored it: no input type
        if has_images and any(c in image_cats for c in ours if c in d.categories):
            kinds.append("image")
        applied[name] = kinds
    return {
        "flagged": d.action != "allow",
        "categories": categories,
        "category_scores": scores,
        "category_applied_input_types": applied,
        "modpipe": {
            "action": d.action,
            "score": d.score,
            "categories": {k: {"score": v.score, "action": v.action} for k, v in d.categories.items()},
            "reasons": d.reasons,
            "error": d.error.model_dump() if d.error else None,
            "policy_hash": d.provenance.policy_hash,
        },
    }


def moderation_response(results: list[dict], policy_name: str) -> dict:
    return {"id": f"modr-{uuid.uuid4().hex}", "model": f"modpipe-{policy_name}", "results": results}
