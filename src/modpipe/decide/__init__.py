"""Decide: category results + policy thresholds → allow / review / block, failing closed."""

from modpipe.decide.decide import decide, decide_category, overall_action

__all__ = ["decide", "decide_category", "overall_action"]
