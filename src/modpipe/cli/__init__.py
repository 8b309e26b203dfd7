"""Command-line interface: a thin shell over `Pipeline` (typer)."""
