"""Fail closed: a scorer that is unavailable, crashes, or is missing never turns into an allow.

Uses scripted fake scorers registered in the registry — the same path real scorers take.
"""

from __future__ import annotations

import textwrap

import pytest
from pydantic import BaseModel, ConfigDict

from modpipe.pipeline import Pipeline
from modpipe.policy import parse_policy
from modpipe.scorers import register
from modpipe.scorers.base import Scorer
from modpipe.settings import Settings
from modpipe.types import TEXT_MODALITIES, Score


class ScriptParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: float = 0.0
    crash: bool = False
    unavailable: bool = False


@register
class ScriptedScorer(Scorer):
    """Scores every text sample with a fixed value, or crashes, as the policy scripts it."""

    type = "scripted"
    modalities = TEXT_MODALITIES
    Params = ScriptParams

    @classmethod
    def outputs(cls, params):
        return frozenset({"x"})

    def __init__(self, name, params, resources):
        super().__init__(name, params, resources)
        if params.unavailable:
            from modpipe.errors import ModelUnavailableError

            raise ModelUnavailableError("no weights for the scripted model")

    @property
    def model_id(self):
        return "scripted@1"

    def score(self, samples):
        if self.params.crash:
            raise RuntimeError("boom")
        return [Score(self.name, "x", self.params.value, s.index, s.modality, s.start, s.end) for s in samples]


def policy(a: str, b: str = "value: 0.0", b_mode: str = "fail_closed", on_unavailable: str = "review"):
    return parse_policy(textwrap.dedent(f"""
        version: 1
        name: scripted
        scorers:
          a: {{type: scripted, params: {{{a}}}}}
          b: {{type: scripted, if_unavailable: {b_mode}, params: {{{b}}}}}
        categories:
          cat:
            signals: [{{scorer: a, label: x}}, {{scorer: b, label: x}}]
            review_at: 0.5
            block_at: 0.8
            on_unavailable: {on_unavailable}
    """))


def gate(lp):
    return Pipeline(lp, Settings()).gate("anything")


@pytest.mark.parametrize(("value", "action"), [(0.1, "allow"), (0.5, "review"), (0.79, "review"), (0.8, "block")])
def test_thresholds_map_scores_to_actions(value, action):
    d = gate(policy(f"value: {value}"))
    assert d.action == action and d.categories["cat"].action == action
    assert d.categories["cat"].score == pytest.approx(value)


def test_a_crashing_scorer_fails_closed_to_review():
    d = gate(policy("value: 0.0", "crash: true"))
    assert d.action == "review"
    assert d.scorers[0].scorer == "b" and d.scorers[0].status == "failed"
    assert any("fail closed" in r for r in d.categories["cat"].reasons)


def test_a_crash_fails_closed_to_block_where_the_policy_says_so():
    assert gate(policy("value: 0.0", "crash: true", on_unavailable="block")).action == "block"


def test_unavailable_scorer_fails_closed_unless_policy_allows_fallback():
    closed = gate(policy("value: 0.0", "unavailable: true"))
    assert closed.action == "review" and closed.scorers[0].status == "unavailable"
    fallback = gate(policy("value: 0.0", "unavailable: true", b_mode="fallback"))
    assert fallback.action == "allow"
    # still loud: the decision lists the scorer and says so in its reasons
    assert fallback.scorers[0].scorer == "b"
    assert any("SAFETY" in r and "'b' unavailable" in r for r in fallback.reasons)


def test_fallback_is_not_allowed_when_nothing_else_ran():
    d = gate(policy("unavailable: true", "unavailable: true", b_mode="fallback"))
    assert d.action == "review"


def test_every_decision_carries_policy_hash_and_model_ids():
    lp = policy("value: 0.2")
    d = gate(lp)
    assert d.provenance.policy_hash == lp.hash
    assert d.provenance.models == {"a": "scripted@1", "b": "scripted@1"}
