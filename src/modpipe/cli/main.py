"""`modpipe` command line: gate, scan, policy, schema (and the groups other modules add).

Every command builds the one `Pipeline` and prints or writes `Decision` JSON. Errors map to exit
codes through `modpipe.errors.exit_code` (one table); messages go to stderr, never content.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from modpipe.errors import InputError, ModpipeError, exit_code

app = typer.Typer(
    name="modpipe", no_args_is_help=True, add_completion=False,
    help="Moderation pipeline for AI-generated video: prompt gate, video scan, policy tuning.",
)
policy_app = typer.Typer(no_args_is_help=True, help="Validate and inspect policies.")
app.add_typer(policy_app, name="policy")

PolicyOpt = Annotated[Optional[Path], typer.Option("--policy", "-p", help="policy YAML (default: shipped default)")]
UserOpt = Annotated[Optional[str], typer.Option("--user", "-u", help="requesting user id (for likeness consent)")]
AudienceOpt = Annotated[Optional[str], typer.Option("--audience", "-a", help="audience override, e.g. teen")]


def _fail(exc: BaseException) -> None:
    typer.echo(f"modpipe: error: {exc}", err=True)
    raise typer.Exit(exit_code(exc))


def _pipeline(policy: Path | None):  # noqa: ANN202
    from modpipe.pipeline import Pipeline

    return Pipeline.from_policy(policy)


@app.callback()
def _root(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log to stderr")] = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


@app.command()
def gate(
    text: Annotated[Optional[str], typer.Argument(help="prompt text (or use --input)")] = None,
    input: Annotated[Optional[Path], typer.Option("--input", "-i", help="JSONL: {id, text, user?, audience?}")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="JSONL out (default stdout)")] = None,
    image: Annotated[list[Path], typer.Option("--image", help="reference image (repeatable)")] = [],  # noqa: B006
    user: UserOpt = None, audience: AudienceOpt = None, policy: PolicyOpt = None,
) -> None:
    """Pre-generation gate: a prompt (+ reference images) → allow / review / block."""
    from modpipe.report import JsonlWriter, to_json

    if (text is None) == (input is None):
        _fail(InputError("give either a prompt TEXT or --input FILE.jsonl, not both"))
    try:
        pipe = _pipeline(policy)
        if text is not None:
            d = pipe.gate(text, user=user, audience=audience, images=image)
            typer.echo(to_json(d, indent=2))
            return
        from modpipe.cli.jsonl import gate_jsonl

        with JsonlWriter(output) as out:
            errors = gate_jsonl(pipe, input, out, default_user=user, default_audience=audience)
    except ModpipeError as exc:
        _fail(exc)
    raise typer.Exit(1 if errors else 0)


@app.command()
def scan(
    videos: Annotated[list[Path], typer.Argument(help="video files")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="JSONL out (default stdout)")] = None,
    report: Annotated[Optional[Path], typer.Option(
        "--report", help="reviewer page: an .html file (one video) or a folder (one page per video)")] = None,
    user: UserOpt = None, audience: AudienceOpt = None, policy: PolicyOpt = None,
) -> None:
    """Post-generation scan: one JSON line per video. Exit 1 if any input errored."""
    from modpipe.report import JsonlWriter
    from modpipe.types import ScanTrace

    errored = 0
    try:
        pipe = _pipeline(policy)
        pipe.load_extractors()  # ASR + OCR load here, not inside the first video's timings
        with JsonlWriter(output) as out:
            for v in videos:
                trace = ScanTrace() if report else None
                d = pipe.scan(v, user=user, audience=audience, trace=trace)
                if report:
                    from modpipe.report.html import write_html

                    page = report if len(videos) == 1 and report.suffix == ".html" else report / f"{v.stem}.html"
                    write_html(page, pipe.policy, d, trace)
                errored += d.error is not None
                out.write(d)
    except ModpipeError as exc:
        _fail(exc)
    raise typer.Exit(1 if errored else 0)


@policy_app.command("validate")
def policy_validate(files: Annotated[list[Path], typer.Argument(help="policy YAML files")]) -> None:
    """Validate policies (schema, scorer params, cross-references); print name and hash."""
    from modpipe.policy import load_policy

    for f in files:
        try:
            lp = load_policy(f)
        except ModpipeError as exc:
            _fail(exc)
        cats = ", ".join(lp.policy.categories)
        typer.echo(f"{f}: ok — policy {lp.name!r} {lp.hash} — categories: {cats}")


@policy_app.command("show")
def policy_show(file: Annotated[Optional[Path], typer.Argument()] = None) -> None:
    """Print the validated policy (with defaults filled in) as JSON."""
    from modpipe.policy import load_policy

    try:
        lp = load_policy(file)
    except ModpipeError as exc:
        _fail(exc)
    typer.echo(json.dumps({"hash": lp.hash, "policy": lp.policy.model_dump(mode="json")}, indent=2))


@app.command()
def schema(out: Annotated[Optional[Path], typer.Option("--out", help="write to this file")] = None) -> None:
    """Print (or write) the JSON Schema of the decision record."""
    from modpipe.report import decision_schema, write_text_atomic

    text = json.dumps(decision_schema(), indent=2) + "\n"
    if out:
        write_text_atomic(out, text)
    else:
        typer.echo(text, nl=False)


@app.command()
def models(policy: PolicyOpt = None) -> None:
    """Load the policy's scorers and list their model ids, or why each is unavailable."""
    try:
        pipe = _pipeline(policy)
    except ModpipeError as exc:
        _fail(exc)
    for name, mid in pipe.provenance.models.items():
        typer.echo(f"{name:12s} ok           {mid}")
    for name, st in pipe.unavailable.items():
        typer.echo(f"{name:12s} {st.status:12s} {st.message}")


# Command groups that live in their own modules (each light at import time) register here.
from modpipe.cli import tune as _tune  # noqa: E402
from modpipe.cli.batch import batch as _batch  # noqa: E402
from modpipe.cli.likeness import app as _likeness_app  # noqa: E402
from modpipe.cli.serve import serve_app as _serve_app  # noqa: E402

app.command("batch")(_batch)
app.add_typer(_likeness_app, name="likeness")
app.add_typer(_tune.app, name="tune")
app.add_typer(_serve_app, name="serve")
policy_app.command("diff")(_tune.policy_diff)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
