"""`modpipe tune …` and `modpipe policy diff`: score once, then tune from the cache.

    modpipe tune score --labels L.jsonl --cache C [--policy P]     run the models once, cache raw scores
    modpipe tune report --cache C --policy P [--html out.html]     per-category metrics at P's thresholds
    modpipe tune thresholds --cache C --policy P --target precision=0.95 --out TUNED.yaml
    modpipe policy diff OLD.yaml NEW.yaml --cache C                which cached decisions flip

Only `tune score` loads models; everything else re-decides cached scores with the live
aggregate/decide code. Output names ids, categories and counts — never texts unless asked.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from modpipe.errors import ModpipeError, exit_code

app = typer.Typer(no_args_is_help=True, help="Policy tuning: cached scores → metrics, thresholds, diffs.")

CacheOpt = Annotated[Path, typer.Option("--cache", "-c", help="score cache folder (Parquet)")]
PolicyReq = Annotated[Path, typer.Option("--policy", "-p", help="policy YAML")]
AudienceOpt = Annotated[Optional[str], typer.Option("--audience", "-a", help="decide with this audience's thresholds")]


def _fail(exc: BaseException) -> None:
    typer.echo(f"modpipe: error: {exc}", err=True)
    raise typer.Exit(exit_code(exc))


def _load(cache: Path, policy: Path):  # noqa: ANN202 - (CachedSet, LoadedPolicy)
    from modpipe.errors import InputError
    from modpipe.policy import load_policy
    from modpipe.tune.cache import ScoreCache
    from modpipe.tune.evaluate import CachedSet

    if not (cache / "items.parquet").is_file():
        raise InputError(f"no score cache at {cache}", hint="run `modpipe tune score` first")
    cached = CachedSet.load(ScoreCache(cache))
    if cached.unscored:
        typer.echo(f"note: {cached.unscored} labelled items have no cached scores and are left out", err=True)
    return cached, load_policy(policy)


def _warn(warnings: list[str]) -> None:
    for w in warnings:
        typer.echo(f"warning: {w}", err=True)


def _subset(items: list, per_file: int | None) -> list:
    """A deterministic, order-independent sample of `per_file` items (by hash of id)."""
    if per_file is None or len(items) <= per_file:
        return items
    return sorted(items, key=lambda it: hashlib.sha256(it.id.encode()).digest())[:per_file]


@app.command("score")
def score(
    labels: Annotated[list[Path], typer.Option("--labels", "-l", help="labelled JSONL (repeatable)")],
    cache: CacheOpt,
    policy: Annotated[Optional[Path], typer.Option("--policy", "-p", help="policy whose scorers run (default: shipped)")] = None,
    per_file: Annotated[Optional[int], typer.Option("--per-file", min=1, help="score a deterministic sample of N items per file")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="prompts per scorer call")] = 256,
) -> None:
    """Run the policy's scorers once over labelled prompts/videos; cache every raw score."""
    from modpipe.pipeline import Pipeline
    from modpipe.tune.cache import ScoreCache
    from modpipe.tune.labels import read_labels
    from modpipe.tune.score import score_items

    try:
        items = [it for f in labels for it in _subset(read_labels(f), per_file)]
        if len({it.id for it in items}) != len(items):
            from modpipe.errors import InputError

            raise InputError("item ids repeat across the labels files; ids must be unique")
        store = ScoreCache(cache)
        pipe = Pipeline.from_policy(policy)
        for st in pipe.unavailable.values():
            typer.echo(f"warning: scorer {st.scorer!r} {st.status}: {st.message}", err=True)

        def progress(run, total):  # noqa: ANN001, ANN202
            if sys.stderr.isatty():
                typer.echo(f"\r  scored {run.scored}/{total}", err=True, nl=False)

        run = score_items(pipe, items, store, batch_size=batch_size, progress=progress)
        pipe.close()
    except ModpipeError as exc:
        _fail(exc)
    typer.echo(f"{len(items)} items: scored {run.scored}, reused {run.reused} from cache, "
               f"failed {run.failed} ({run.seconds:.1f} s) → {cache}")
    raise typer.Exit(1 if run.failed else 0)


@app.command("report")
def report(
    cache: CacheOpt, policy: PolicyReq, audience: AudienceOpt = None,
    html: Annotated[Optional[Path], typer.Option("--html", help="also write an HTML report with plots")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="also write the metrics as JSON")] = None,
    fold: Annotated[str, typer.Option("--fold", help="all | tune | heldout (the halves `tune thresholds` uses)")] = "all",
) -> None:
    """Per category: AUPRC, recall at 1/2/5% FPR, P/R/F1 and confusion at review_at and block_at."""
    from dataclasses import asdict

    from modpipe.report import write_text_atomic
    from modpipe.tune.evaluate import decide_all
    from modpipe.tune.metrics import category_metrics, format_confusion, format_table, queue_shares

    try:
        t0 = time.perf_counter()
        cached, loaded = _load(cache, policy)
        if fold != "all":
            from modpipe.errors import InputError
            from modpipe.tune.thresholds import heldout_mask

            if fold not in ("tune", "heldout"):
                raise InputError(f"--fold must be all, tune or heldout (got {fold!r})")
            held = heldout_mask(cached)
            cached = cached.subset(held if fold == "heldout" else ~held)
        out = decide_all(cached, loaded, audience)
        ms = category_metrics(cached, out)
        shares = queue_shares(out)
        elapsed = time.perf_counter() - t0
    except ModpipeError as exc:
        _fail(exc)
    _warn(out.warnings)
    typer.echo(f"policy {loaded.name} {loaded.hash[:19]} on {len(cached)} cached items"
               + ("" if fold == "all" else f" ({fold} fold)") + f" ({elapsed:.2f} s, no models run)")
    typer.echo(format_table(ms))
    typer.echo("\n" + format_confusion(ms))
    typer.echo("\noverall: " + ", ".join(f"{a} {v:.1%}" for a, v in shares.items())
               + "   (review = expected human-queue share)")
    if html:
        from modpipe.tune.html import render

        write_text_atomic(html, render(cached, loaded, out, ms, shares, audience))
        typer.echo(f"HTML report → {html}")
    if json_out:
        blob = {"policy": loaded.name, "policy_hash": loaded.hash, "items": len(cached),
                "shares": shares, "categories": [asdict(m) for m in ms]}
        write_text_atomic(json_out, json.dumps(blob, indent=2) + "\n")


@app.command("thresholds")
def thresholds(
    cache: CacheOpt, policy: PolicyReq,
    target: Annotated[list[str], typer.Option("--target", "-t", help="[review:|block:]precision|recall|fpr=VALUE (repeatable)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="where to write the tuned policy YAML")],
    category: Annotated[list[str], typer.Option("--category", help="only these categories (repeatable)")] = [],  # noqa: B006
) -> None:
    """Choose review_at/block_at per category for a target (chosen on one fold, checked on the other)."""
    from modpipe.report import write_text_atomic
    from modpipe.tune.thresholds import Target, audience_warnings, format_choices, read_policy_text, tune

    try:
        targets = [Target.parse(t) for t in target]
        if len({t.level for t in targets}) != len(targets):
            from modpipe.errors import InputError

            raise InputError("give at most one target per level (review, block)")
        cached, loaded = _load(cache, policy)
        text, tuned, choices = tune(cached, loaded, targets, category or None, read_policy_text(policy))
        write_text_atomic(out, text)
    except ModpipeError as exc:
        _fail(exc)
    typer.echo("chosen on the tuning fold; 'held-out' is the written policy on the other fold")
    typer.echo(format_choices(choices))
    _warn(audience_warnings(tuned))
    typer.echo(f"→ {out} (valid policy {tuned.name!r} {tuned.hash[:19]}; "
               f"compare: modpipe policy diff {policy} {out} --cache {cache})")


def policy_diff(
    old: Annotated[Path, typer.Argument(help="current policy YAML")],
    new: Annotated[Path, typer.Argument(help="proposed policy YAML")],
    cache: CacheOpt, audience: AudienceOpt = None,
    examples: Annotated[int, typer.Option("--examples", "-n", min=0, help="example ids per transition")] = 5,
    show_text: Annotated[bool, typer.Option("--show-text", help="print example texts (off: ids only)")] = False,
) -> None:
    """Which cached items change decision between OLD and NEW (allow→block, block→review, …)."""
    from modpipe.policy import load_policy
    from modpipe.tune.diff import diff, format_diff

    try:
        cached, lo = _load(cache, old)
        d = diff(cached, lo, load_policy(new), audience)
    except ModpipeError as exc:
        _fail(exc)
    _warn(d.warnings)
    typer.echo(format_diff(d, cached, examples, show_text))
