"""Consent: a likeness match for a person who consented for this user is not a violation.

`apply_consent(scores, user, registry)` runs after scoring and before aggregation (the scorers
stay pure). For every `match` Score whose evidence names a `person_id`:

- an active grant to this user or to everyone → value 0.0, evidence `consent: "granted"`,
  `grant_id`, `granted_at` (the match is still visible in the decision's evidence);
- a grant that was revoked → value kept, `consent: "revoked"`, `revoked_at`;
- no grant at all → value kept, `consent: "none"`.

Public figures and cameo owners are treated alike: blocked unless they granted consent.
A registry failure raises (the Pipeline turns it into fail-closed review), never a silent allow.
"""

from __future__ import annotations

from collections.abc import Sequence

from modpipe.likeness.registry import Registry
from modpipe.types import Score


def apply_consent(scores: Sequence[Score], user: str | None, registry: Registry) -> list[Score]:
    cache: dict[str, tuple] = {}
    out: list[Score] = []
    for s in scores:
        pid = s.evidence.get("person_id") if s.label == "match" else None
        if pid is None:
            out.append(s)
            continue
        if pid not in cache:
            cache[pid] = registry.consent(pid, user)
        state, grant = cache[pid]
        if state == "granted":
            out.append(s.with_value(0.0, consent="granted", grant_id=grant.id, granted_at=grant.granted_at,
                                    grantee=grant.grantee, raw_score=s.value))
        elif state == "revoked":
            out.append(s.with_value(s.value, consent="revoked", grant_id=grant.id, revoked_at=grant.revoked_at))
        else:
            out.append(s.with_value(s.value, consent="none"))
    return out


def consent_reasons(scores: Sequence[Score]) -> list[str]:
    """One line per person whose match was waived by consent, for the decision's reasons
    (a waived match scores 0, so it leaves no segment; this keeps it visible and auditable)."""
    seen: dict[str, str] = {}
    for s in sorted(scores, key=lambda s: -s.evidence.get("raw_score", 0.0)):
        ev = s.evidence
        if ev.get("consent") == "granted" and ev["person_id"] not in seen:
            who = "everyone" if ev.get("grantee") == "*" else ev.get("grantee")
            where = f"{s.start:.2f}-{s.end:.2f}s" if s.start is not None and s.end is not None else s.modality.value
            seen[ev["person_id"]] = (f"likeness: {ev.get('name')} ({ev['person_id']}) matched by {s.scorer} "
                                     f"at {where} (score {ev.get('raw_score', 0):.2f}); allowed by consent "
                                     f"grant {ev.get('grant_id')} to {who} since {ev.get('granted_at')}")
    return list(seen.values())
