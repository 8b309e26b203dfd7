"""Small generated media for tests, the demo and benchmarks (no content beyond what is asked)."""
