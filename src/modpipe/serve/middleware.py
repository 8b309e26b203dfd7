"""Pure ASGI middleware for the service: request body limits and a content-free access log.

`BodyLimit` answers 413 before the app runs when `Content-Length` is over the route's limit, and
stops a chunked upload as soon as it passes the limit (the app sees a 413 `HTTPException` from
`receive`). `AccessLog` logs method, path, status, duration and a request id — never a body,
a query string or a header value, so no prompt can reach the logs through it.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable

log = logging.getLogger("modpipe.serve")


def _too_large(limit: int, path: str) -> str:
    return f"request body is over the limit of {limit} bytes for {path}"


class BodyLimit:
    def __init__(self, app, limit_for: Callable[[str], int | None]) -> None:  # noqa: ANN001 - ASGI app
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI signature
        if scope["type"] != "http" or (limit := self.limit_for(scope["path"])) is None:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            body = json.dumps({"detail": _too_large(limit, scope["path"]),
                               "error": {"type": "InputTooLargeError", "message": _too_large(limit, scope["path"])}})
            await send({"type": "http.response.start", "status": 413,
                        "headers": [(b"content-type", b"application/json"), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body.encode()})
            return
        seen = 0

        async def limited():  # noqa: ANN202
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    from fastapi import HTTPException

                    raise HTTPException(413, detail=_too_large(limit, scope["path"]))
            return message

        await self.app(scope, limited, send)


class AccessLog:
    def __init__(self, app) -> None:  # noqa: ANN001 - ASGI app
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI signature
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = uuid.uuid4().hex[:12]
        t0 = time.perf_counter()
        status = 500

        async def send_with_id(message) -> None:  # noqa: ANN001
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info("http rid=%s %s %s status=%d ms=%.1f", rid, scope["method"], scope["path"],
                     status, 1000 * (time.perf_counter() - t0))
