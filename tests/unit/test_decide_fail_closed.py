"""Fail closed: a scorer that is unavailable, crashes, or is missing never turns into an allow;
and the decision's overall `score` (one scale for every category) never contradicts its action.

Uses scripted fake scorers registered in the registry — the same path real scorers take.
"""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings, strategies as st
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


# ---------------------------------------------------------------- the decision's overall score

def two_categories(sexual: float, self_harm: float):
    """Two categories with different thresholds, each fed by its own scripted scorer."""
    return parse_policy(textwrap.dedent(f"""
        version: 1
        name: two
        scorers:
          s: {{type: scripted, params: {{value: {sexual}}}}}
          h: {{type: scripted, params: {{value: {self_harm}}}}}
        categories:
          sexual: {{signals: [{{scorer: s, label: x}}], review_at: 0.5, block_at: 0.75}}
          self_harm: {{signals: [{{scorer: h, label: x}}], review_at: 0.4, block_at: 0.8}}
    """))


@pytest.mark.parametrize(("sexual", "score"), [(0.0, 0.0), (0.25, 0.25), (0.5, 0.5), (0.625, 0.625),
                                               (0.75, 0.75), (0.875, 0.875), (1.0, 1.0)])
def test_score_puts_review_at_on_half_and_block_at_on_three_quarters(sexual, score):
    assert gate(two_categories(sexual, 0.0)).score == pytest.approx(score, abs=1e-4)


def test_score_ranks_categories_by_their_own_thresholds_not_their_raw_scores():
    # the same raw 0.45 is over self_harm's review_at (0.4) and under sexual's (0.5)
    flagged, allowed = gate(two_categories(0.0, 0.45)), gate(two_categories(0.45, 0.0))
    assert (flagged.action, allowed.action) == ("review", "allow")
    assert flagged.score > 0.5 > allowed.score


def test_score_is_at_least_a_half_when_a_category_fails_closed():
    d = gate(policy("value: 0.0", "crash: true"))
    assert d.categories["cat"].score == 0.0 and d.action == "review" and d.score == 0.5
    assert gate(policy("value: 0.0", "crash: true", on_unavailable="block")).score == 0.75


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1))
def test_score_never_contradicts_the_action(value, review_at, span):
    block_at = review_at + (1 - review_at) * span
    d = Pipeline(parse_policy(textwrap.dedent(f"""
        version: 1
        name: random
        scorers: {{a: {{type: scripted, params: {{value: {value!r}}}}}}}
        categories:
          cat: {{signals: [{{scorer: a, label: x}}], review_at: {review_at!r}, block_at: {block_at!r}}}
    """)), Settings()).gate("anything")
    assert (d.score >= 0.5) == (d.action != "allow")
    assert (d.score >= 0.75) == (d.action == "block")
