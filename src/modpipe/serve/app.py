"""The HTTP service: `create_app(pipeline=None, settings=None)` → a FastAPI app.

    POST /v1/gate         prompt (+ user, audience, base64 reference images) → Decision
    POST /v1/moderations  OpenAI moderation API request → OpenAI moderation response
    POST /v1/scan         multipart video upload → Decision (streamed to a temp file)
    GET  /healthz         the process is up
    GET  /readyz          200 once the policy's models are loaded, 503 before (or if loading failed)
    GET  /docs            OpenAPI docs

Gate requests go through `GateBatcher` (one `gate_many` per micro-batch). Every request has a
deadline (`Settings.request_timeout_s`): past it, or when the pipeline raises, the answer is a
fail-closed decision (`review`, or `block` where the policy's `on_unavailable` says so) with the
reason — never an allow. `ModpipeError`s map to HTTP statuses through `errors.http_status`.
Nothing here logs request bodies.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import HTTPException, RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from modpipe import __version__
from modpipe.errors import (
    InputError, InputTooLargeError, ModelUnavailableError, ModpipeError, http_status,
)
from modpipe.serve import openai_compat
from modpipe.serve.batcher import GateBatcher
from modpipe.serve.middleware import UNAUTHORIZED, AccessLog, BodyLimit, RequireKey, key_ok
from modpipe.serve.schemas import GateRequest, ModerationRequest, ModerationResponse
from modpipe.settings import Settings, get_settings
from modpipe.types import Decision, ErrorInfo, ScorerStatus

log = logging.getLogger("modpipe.serve")
MULTIPART_SLACK = 64 * 1024  # form fields and boundaries around an upload


class Service:
    """What the routes share: the pipeline (once loaded), the batcher, the limits."""

    def __init__(self, settings: Settings, pipeline=None, policy: str | Path | None = None,  # noqa: ANN001
                 batch_max: int = 32, batch_window_ms: float = 3.0) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.policy = policy
        self.load_error: str | None = None
        self.batch_max, self.batch_window_s = batch_max, batch_window_ms / 1000
        self.batcher: GateBatcher | None = None
        self.image_cats: set[str] = set()
        self.scan_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modpipe-scan")
        self.keys = [k.strip() for k in (settings.api_keys or "").split(",") if k.strip()]
        if pipeline is not None:
            self._ready(pipeline)

    def _ready(self, pipeline) -> None:  # noqa: ANN001
        self.pipeline = pipeline
        self.image_cats = openai_compat.image_categories(pipeline)
        self.batcher = GateBatcher(pipeline.gate_many, max_batch=self.batch_max, window_s=self.batch_window_s,
                                   known_down=frozenset(pipeline.unavailable))

    async def load(self) -> None:
        from modpipe.pipeline import Pipeline

        try:
            self._ready(await asyncio.to_thread(Pipeline.from_policy, self.policy, self.settings))
            log.info("models loaded; ready (policy %s)", self.pipeline.loaded.hash[:19])
        except Exception as exc:  # noqa: BLE001 - reported by /readyz, never crashes the server
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("model loading failed: %s", self.load_error)

    def require_pipeline(self):  # noqa: ANN201
        if self.pipeline is None:
            why = f"model loading failed: {self.load_error}" if self.load_error else "models are still loading"
            raise ModelUnavailableError(why, hint="retry when GET /readyz answers 200")
        return self.pipeline

    def check_text(self, text: str) -> None:
        """The caller's fault, so 413 here rather than a review decision from the pipeline."""
        if len(text) > self.settings.max_prompt_chars:
            raise InputTooLargeError(f"prompt has {len(text)} characters; the limit is "
                                     f"{self.settings.max_prompt_chars} (MODPIPE_MAX_PROMPT_CHARS)")

    def check_audience(self, audience: str | None) -> None:
        audiences = self.pipeline.policy.audiences
        if audience is not None and audience not in audiences:
            raise InputError(f"unknown audience {audience!r}; this policy knows: {', '.join(audiences) or 'none'}")

    def fail_closed(self, kind: str, status: str, message: str, audience: str | None, **fields: Any) -> Decision:
        """A decision for a request the pipeline could not finish: every scorer counts as down."""
        p = self.pipeline
        statuses = dict(p.unavailable)
        for name in p.scorers:
            cats = [c for c, cat in p.policy.categories.items() if any(s.scorer == name for s in cat.signals)]
            statuses[name] = ScorerStatus(scorer=name, status=status, message=message, categories=cats)
        error = ErrorInfo(type="ScorerTimeout" if status == "timeout" else "ModelError", message=message)
        return p.decide(kind, [], statuses, audience, error=error, **fields)

    async def gate(self, item: dict[str, Any]) -> Decision:
        timeout = self.settings.request_timeout_s
        try:
            return await asyncio.wait_for(self.batcher.submit(item), timeout)
        except TimeoutError:
            log.warning("gate id=%s timed out after %ss → fail closed", item.get("id"), timeout)
            return self.fail_closed("gate", "timeout", f"no decision within {timeout}s", item.get("audience"),
                                    id=item.get("id"), user=item.get("user"))
        except Exception as exc:  # noqa: BLE001 - an internal failure is a review, never an allow
            log.error("gate id=%s failed: %s → fail closed", item.get("id"), type(exc).__name__)
            return self.fail_closed("gate", "failed", f"internal error: {type(exc).__name__}", item.get("audience"),
                                    id=item.get("id"), user=item.get("user"))

    async def images(self, encoded: list[str]) -> list[Any]:
        from modpipe.ingest.images import load_image

        out = []
        for i, s in enumerate(encoded):
            if s.startswith("data:"):
                head, _, s = s.partition(",")
                if not head.endswith(";base64"):
                    raise InputError(f"images[{i}]: only base64 data: URLs are accepted")
            elif re.match(r"^[a-z][a-z0-9+.-]*://", s, re.I):
                raise InputError(f"images[{i}]: remote URLs are not fetched; send the image as base64")
            try:
                raw = base64.b64decode(s, validate=True)
            except (binascii.Error, ValueError):
                raise InputError(f"images[{i}]: not valid base64") from None
            out.append(await asyncio.to_thread(load_image, raw))
        return out


_bearer = HTTPBearer(auto_error=False, description="one of MODPIPE_API_KEYS (when set)")


def auth(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """`Authorization: Bearer KEY` when MODPIPE_API_KEYS is set (`RequireKey` already refused
    others before their body was read; this declares the scheme in OpenAPI and checks again)."""
    keys = request.app.state.service.keys
    if keys and not key_ok(creds.credentials if creds is not None else "", keys):
        raise HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})


def _scan_file(pipeline, path: str, user: str | None, audience: str | None, rid: str) -> Decision:  # noqa: ANN001
    try:
        return pipeline.scan(path, user=user, audience=audience, id=rid)
    finally:
        Path(path).unlink(missing_ok=True)


def _redact(d: Decision, tmp: str, name: str) -> Decision:
    """Show the client's file name, never the server's temp path, in the decision."""
    def fix(s: str) -> str:
        return s.replace(tmp, name).replace(Path(tmp).name, name)

    error = d.error.model_copy(update={"message": fix(d.error.message)}) if d.error else None
    return d.model_copy(update={"input": name, "error": error, "reasons": [fix(r) for r in d.reasons]})


def _safe_suffix(filename: str | None) -> str:
    suffix = Path(filename or "").suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


def _error_body(exc: BaseException) -> dict:
    return {"detail": str(exc), "error": {"type": type(exc).__name__, "message": str(exc)}}


def _parse_error_detail(exc: StarletteHTTPException) -> str:
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return f"request body is not valid UTF-8 (byte {cause.start})"
    if isinstance(cause, RecursionError):
        return "request body JSON is nested too deeply"
    return str(exc.detail)


def create_app(pipeline=None, settings: Settings | None = None, *,  # noqa: ANN001 - Pipeline
               policy: str | Path | None = None, batch_max: int = 32, batch_window_ms: float = 3.0) -> FastAPI:
    """Build the app. With `pipeline`, it is ready at once; without, the policy's models load in
    the background at startup and /readyz answers 503 until they have."""
    settings = settings or get_settings()
    svc = Service(settings, pipeline, policy, batch_max, batch_window_ms)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        loading = None if svc.pipeline is not None else asyncio.create_task(svc.load())
        yield
        if loading is not None and not loading.done():
            loading.cancel()
        if svc.batcher is not None:
            await svc.batcher.close()
        svc.scan_pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="modpipe", version=__version__, lifespan=lifespan,
                  description="Moderation for AI-generated video: prompt gate, video scan, "
                              "OpenAI-compatible moderations.")
    app.state.service = svc
    limits = {"/v1/gate": settings.max_json_bytes, "/v1/moderations": settings.max_json_bytes,
              "/v1/scan": settings.max_upload_bytes + MULTIPART_SLACK}
    app.add_middleware(BodyLimit, limit_for=limits.get)
    app.add_middleware(RequireKey, keys=svc.keys)
    app.add_middleware(AccessLog)  # outermost: logs every answer, 401 and 413 included

    @app.exception_handler(ModpipeError)
    async def _modpipe_error(request: Request, exc: ModpipeError) -> JSONResponse:
        headers = {"Retry-After": "5"} if isinstance(exc, ModelUnavailableError) else None
        return JSONResponse(_error_body(exc), status_code=http_status(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's 422 body, but ASCII-escaped: the echoed input may hold lone surrogates
        body = json.dumps({"detail": jsonable_encoder(exc.errors())}, ensure_ascii=True, default=str)
        return Response(body, status_code=422, media_type="application/json")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = _parse_error_detail(exc) if exc.status_code == 400 else exc.detail
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        p = svc.pipeline
        if p is None:
            body = {"status": "failed" if svc.load_error else "loading", "error": svc.load_error}
            return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
        return JSONResponse({
            "status": "ready", "policy": p.policy.name, "policy_hash": p.loaded.hash,
            "models": p.provenance.models, "unavailable": [s.model_dump() for s in p.unavailable.values()],
            "batches": svc.batcher.batches, "gated": svc.batcher.requests,
        })

    @app.post("/v1/gate", response_model=Decision, dependencies=[Depends(auth)], tags=["moderation"])
    async def gate(req: GateRequest) -> Response:
        """Pre-generation gate for one prompt (+ reference images) → Decision."""
        svc.require_pipeline()
        svc.check_text(req.prompt)
        svc.check_audience(req.audience)
        images = await svc.images(req.images)
        d = await svc.gate({"id": req.id, "text": req.prompt, "user": req.user,
                            "audience": req.audience, "images": images})
        return Response(d.model_dump_json(), media_type="application/json")

    @app.post("/v1/moderations", response_model=ModerationResponse, dependencies=[Depends(auth)],
              tags=["moderation"])
    async def moderations(req: ModerationRequest) -> JSONResponse:
        """OpenAI-compatible moderation (same request and response shapes)."""
        p = svc.require_pipeline()
        if isinstance(req.input, str) or isinstance(req.input[0], str):
            texts = [req.input] if isinstance(req.input, str) else list(req.input)
            for t in texts:
                svc.check_text(t)
            ds = await asyncio.gather(*(svc.gate({"text": t}) for t in texts))
            results = [openai_compat.moderation_result(d, has_text=True, has_images=False, image_cats=svc.image_cats)
                       for d in ds]
        else:  # multimodal parts: one result for all of them
            text = "\n".join(part.text for part in req.input if part.type == "text")
            urls = [part.image_url.url for part in req.input if part.type == "image_url"]
            svc.check_text(text)
            d = await svc.gate({"text": text, "images": await svc.images(urls)})
            results = [openai_compat.moderation_result(d, has_text=bool(text), has_images=bool(urls),
                                                       image_cats=svc.image_cats)]
        return JSONResponse(openai_compat.moderation_response(results, p.policy.name))

    @app.post("/v1/scan", response_model=Decision, dependencies=[Depends(auth)], tags=["moderation"])
    async def scan(file: Annotated[UploadFile, File(description="the video")],
                   user: Annotated[str | None, Form(max_length=256)] = None,
                   audience: Annotated[str | None, Form(max_length=256)] = None) -> Response:
        """Post-generation scan of an uploaded video (multipart field `file`) → Decision.
        The upload goes to a private temp file; no server-side path is ever taken from the client."""
        p = svc.require_pipeline()
        svc.check_audience(audience)
        name = Path(file.filename or "upload").name[:200] or "upload"
        fd, tmp = tempfile.mkstemp(prefix="modpipe-scan-", suffix=_safe_suffix(file.filename))
        try:
            with os.fdopen(fd, "wb") as f:
                await asyncio.to_thread(shutil.copyfileobj, file.file, f, 1 << 20)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        rid = uuid.uuid4().hex[:12]
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(svc.scan_pool, _scan_file, p, tmp, user, audience, rid)
        timeout = settings.request_timeout_s
        try:
            d = await asyncio.wait_for(asyncio.shield(job), timeout)
        except TimeoutError:
            log.warning("scan id=%s timed out after %ss → fail closed", rid, timeout)
            d = svc.fail_closed("scan", "timeout", f"no decision within {timeout}s", audience, id=rid, user=user)
        except Exception as exc:  # noqa: BLE001 - fail closed
            log.error("scan id=%s failed: %s → fail closed", rid, type(exc).__name__)
            d = svc.fail_closed("scan", "failed", f"internal error: {type(exc).__name__}", audience, id=rid, user=user)
        return Response(_redact(d, tmp, name).model_dump_json(), media_type="application/json")

    return app
