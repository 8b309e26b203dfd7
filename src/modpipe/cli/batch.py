"""`modpipe batch INPUT --output DIR`: scan a folder, glob or JSONL manifest on Ray Data."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from modpipe.errors import ModpipeError, exit_code


class Format(str, Enum):
    parquet = "parquet"
    jsonl = "jsonl"
    both = "both"


def batch(
    input: Annotated[str, typer.Argument(help="folder, glob ('clips/**/*.mp4') or JSONL manifest {id, uri, user?, audience?}")],
    output: Annotated[Path, typer.Option("--output", "-o", help="output folder (re-run with the same folder to resume)")],
    address: Annotated[Optional[str], typer.Option("--address", help="Ray cluster: auto | HOST:PORT | ray://HOST:PORT (default: start local Ray)")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="scoring actors (each loads the models once)")] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="videos per actor call")] = 4,
    policy: Annotated[Optional[Path], typer.Option("--policy", "-p", help="policy YAML (default: shipped default)")] = None,
    format: Annotated[Format, typer.Option("--format", help="final output format")] = Format.parquet,
    part_rows: Annotated[int, typer.Option("--part-rows", min=1, help="records per journal part (smaller = less redone after a kill)")] = 256,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="progress bar on stderr")] = True,
) -> None:
    """Batch scan on Ray: one record per input in DIR/decisions.parquet, resumable after a kill.
    Exit 1 if any input ended as an error record (like `scan`)."""
    import json

    from modpipe.batch import run_batch

    formats = {"parquet", "jsonl"} if format is Format.both else {format.value}
    try:
        s = run_batch(input, output, address=address, concurrency=concurrency, batch_size=batch_size,
                      policy=policy, formats=formats, part_rows=part_rows, progress=progress)
    except ModpipeError as exc:
        typer.echo(f"modpipe: error: {exc}", err=True)
        raise typer.Exit(exit_code(exc)) from None
    rate = f"{s['videos_per_s']} videos/s" if s["videos_per_s"] else "nothing to do"
    typer.echo(f"{s['records']} records in {s['output']} ({s['decided']} decided now, "
               f"{s['skipped']} already done; {rate})")
    typer.echo("actions:    " + json.dumps(s["actions"], sort_keys=True))
    for cat, counts in s["categories"].items():
        typer.echo(f"  {cat:16s}" + json.dumps(counts, sort_keys=True))
    typer.echo("errors:     " + json.dumps(s["errors"], sort_keys=True))
    raise typer.Exit(1 if s["errors"] else 0)
