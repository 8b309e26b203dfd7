"""`modpipe serve`: run the HTTP service with uvicorn (imported only when the command runs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

serve_app = typer.Typer(help="Run the HTTP service (gate, OpenAI-compatible moderations, scan).")


@serve_app.callback(invoke_without_command=True)
def serve(
    host: Annotated[str, typer.Option(help="bind address; keep 127.0.0.1 unless a proxy fronts it")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="processes, each loading its own models")] = 1,
    policy: Annotated[Optional[Path], typer.Option("--policy", "-p", help="policy YAML (default: shipped default)")] = None,
    batch_max: Annotated[int, typer.Option(min=1, help="most gate requests per model batch")] = 32,
    batch_window_ms: Annotated[float, typer.Option(min=0.0, help="how long a batch waits to fill")] = 3.0,
    log_level: Annotated[str, typer.Option(help="uvicorn/modpipe log level")] = "info",
) -> None:
    """Serve /v1/gate, /v1/moderations, /v1/scan, /healthz, /readyz and /docs.

    Models load in the background after start-up; /readyz answers 200 once they have."""
    import uvicorn

    from modpipe.errors import PolicyError, exit_code
    from modpipe.policy import load_policy

    if policy is not None:
        try:
            load_policy(policy)  # fail fast, before any worker starts
        except PolicyError as exc:
            typer.echo(f"modpipe: error: {exc}", err=True)
            raise typer.Exit(exit_code(exc)) from None
        os.environ["MODPIPE_POLICY"] = str(policy.resolve())  # workers build from the environment
    os.environ["MODPIPE_SERVE_BATCH"] = f"{batch_max},{batch_window_ms}"
    os.environ["MODPIPE_LOG_LEVEL"] = log_level.upper()
    uvicorn.run("modpipe.cli.serve:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, access_log=False)


def app_from_env():  # noqa: ANN201 - the uvicorn factory, one call per worker process
    import logging

    from modpipe.serve import create_app
    from modpipe.settings import get_settings

    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")  # no-op where configured
    logging.getLogger("modpipe").setLevel(get_settings().log_level.upper())
    batch_max, window = os.environ.get("MODPIPE_SERVE_BATCH", "32,3.0").split(",")
    return create_app(batch_max=int(batch_max), batch_window_ms=float(window))
