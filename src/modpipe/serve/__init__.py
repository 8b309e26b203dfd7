"""HTTP service: `create_app()` (FastAPI), started by `modpipe serve`.

FastAPI and uvicorn are imported only when the service is built, so `import modpipe` stays light.
See `modpipe.serve.app` for the endpoints and `modpipe.serve.openai_compat` for the OpenAI
category mapping.
"""

from __future__ import annotations

from typing import Any


def create_app(*args: Any, **kwargs: Any):  # noqa: ANN201 - fastapi.FastAPI, imported lazily
    from modpipe.serve.app import create_app as _create_app

    return _create_app(*args, **kwargs)


__all__ = ["create_app"]
