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
