"""Policies: YAML files (data, not code) validated into `Policy` models with a content hash."""

from modpipe.policy.loader import LoadedPolicy, load_policy, parse_policy
from modpipe.policy.schema import Aggregate, Category, Policy, Sampling, ScorerSpec, Signal

__all__ = [
    "Aggregate", "Category", "LoadedPolicy", "Policy", "Sampling", "ScorerSpec", "Signal",
    "load_policy", "parse_policy",
]
