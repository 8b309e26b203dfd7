"""Aggregate: per-category scores over time and modalities → one value + evidence segments."""

from modpipe.aggregate.temporal import Aggregated, aggregate

__all__ = ["Aggregated", "aggregate"]
