"""Pure ASGI middleware for the service: API keys, body limits and a content-free access log.

`RequireKey` answers 401 to `/v1/*` requests without a configured key before any body is read
(so an anonymous client cannot make the server spool a 200 MB upload).

`BodyLimit` answers 413 before the app runs when `Content-Length` is over the route's limit, and
stops a chunked upload as soon as it passes the limit (the app sees a 413 `HTTPException` from
`receive`). `AccessLog` logs method, path, status, duration and a request id — never a body,
a query string or a header value, so no prompt can reach the logs through it.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable

log = logging.getLogger("modpipe.serve")


def key_ok(token: str, keys: list[str]) -> bool:
    """Constant-time check of a bearer token against the configured keys."""
    return any(hmac.compare_digest(token.encode(), k.encode()) for k in keys)


async def _json(send, status: int, body: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:  # noqa: ANN001
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *headers]})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


UNAUTHORIZED = "missing or wrong API key (Authorization: Bearer KEY)"


class RequireKey:
    def __init__(self, app, keys: list[str], prefix: str = "/v1/") -> None:  # noqa: ANN001 - ASGI app
        self.app = app
        self.keys = keys
        self.prefix = prefix

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI signature
        if scope["type"] == "http" and self.keys and scope["path"].startswith(self.prefix):
            header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not key_ok(token.strip(), self.keys):
                await _json(send, 401, {"detail": UNAUTHORIZED}, [(b"www-authenticate", b"Bearer")])
                return
        await self.app(scope, receive, send)


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
            msg = _too_large(limit, scope["path"])
            await _json(send, 413, {"detail": msg, "error": {"type": "InputTooLargeError", "message": msg}},
                        [(b"connection", b"close")])
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
