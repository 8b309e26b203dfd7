"""The HTTP service on the shipped default policy with real models (MiniLM, NudeNet), called as
clients call it: every endpoint, the OpenAI-compatible shapes checked against the schema in the
repo, every limit, a corpus of bad inputs, API keys, logs without prompts, and one real uvicorn
server on loopback taking concurrent requests in micro-batches.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import socket
import struct
import threading
import zlib
from pathlib import Path

import httpx
import jsonschema
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from modpipe.report import decision_schema
from modpipe.serve import create_app
from modpipe.serve.openai_compat import OPENAI_CATEGORIES, unmapped
from modpipe.settings import Settings
from modpipe.testing.media import scene, write_video

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "src/modpipe/schemas/openai_moderation.schema.json").read_text())
RESPONSE = {**SCHEMA, "$ref": "#/$defs/response"}
REQUEST = {**SCHEMA, "$ref": "#/$defs/request"}
LIMITS = {"max_prompt_chars": 2000, "max_upload_bytes": 400_000, "max_json_bytes": 300_000}
TERROR = "a man beheading a hostage in front of an ISIS flag"


@pytest.fixture(scope="module")
def client(pipeline, tmp_path_factory):
    settings = Settings(home=tmp_path_factory.mktemp("serve-home"), **LIMITS)
    with TestClient(create_app(pipeline, settings)) as c:
        yield c


def png(width: int = 64, height: int = 48) -> str:
    buf = io.BytesIO()
    Image.fromarray(scene(width, height)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def png_declaring(width: int, height: int) -> str:
    """A ~70-byte PNG whose header claims an enormous image (a decompression bomb's calling card)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    return base64.b64encode(data).decode()


# ------------------------------------------------------------------ endpoints


def test_health_and_readiness(client, pipeline):
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["policy_hash"] == pipeline.loaded.hash
    assert {s["scorer"] for s in ready.json()["unavailable"]} == {"clip"}  # no CLIP weights here
    assert "/v1/moderations" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200


def test_gate_answers_with_a_decision_that_never_echoes_the_prompt(client):
    r = client.post("/v1/gate", json={"prompt": TERROR, "user": "u1", "id": "req-1"})
    assert r.status_code == 200 and r.headers["x-request-id"]
    d = r.json()
    jsonschema.validate(d, decision_schema())
    assert d["action"] == "block" and d["categories"]["terrorism"]["action"] == "block"
    assert d["id"] == "req-1" and d["user"] == "u1"
    assert TERROR not in r.text
    calm = client.post("/v1/gate", json={"prompt": "a kitten asleep on a sofa", "audience": "teen"}).json()
    assert calm["action"] == "allow" and calm["audience"] == "teen"


def test_gate_scores_reference_images(client):
    d = client.post("/v1/gate", json={"prompt": "make this photo move", "images": [png(), "data:image/png;base64," + png()]}).json()
    assert d["error"] is None and d["action"] == "allow"
    assert "nudity" in d["provenance"]["models"] and not [s for s in d["scorers"] if s["scorer"] == "nudity"]


def test_moderations_speaks_the_openai_shapes(client):
    for body in ({"input": TERROR}, {"input": ["a kitten", TERROR], "model": "omni-moderation-latest"},
                 {"input": [{"type": "text", "text": "a kitten"},
                            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + png()}}]}):
        jsonschema.validate(body, REQUEST)
        r = client.post("/v1/moderations", json=body)
        assert r.status_code == 200, r.text
        out = r.json()
        jsonschema.validate(out, RESPONSE)
        assert len(out["results"]) == (len(body["input"]) if isinstance(body["input"][0], str) and isinstance(body["input"], list) else 1)
    single = client.post("/v1/moderations", json={"input": TERROR}).json()["results"][0]
    assert single["flagged"] and single["categories"]["violence"] and single["categories"]["illicit/violent"]
    assert not single["categories"]["harassment/threatening"]  # no modpipe category splits threats
    assert single["category_scores"]["harassment/threatening"] == 0.0
    assert single["modpipe"]["categories"]["terrorism"]["action"] == "block"
    kitten, terror = client.post("/v1/moderations", json={"input": ["a kitten", TERROR]}).json()["results"]
    assert not kitten["flagged"] and terror["flagged"]
    assert kitten["modpipe"]["score"] < 0.5 <= 0.75 <= terror["modpipe"]["score"]  # one number to rank by
    mm = out["results"][0]
    assert mm["category_applied_input_types"]["sexual"] == ["text", "image"]
    assert mm["category_applied_input_types"]["hate"] == ["text"]
    assert mm["category_applied_input_types"]["harassment"] == ["text"]
    assert mm["category_applied_input_types"]["harassment/threatening"] == []  # no modpipe category scores it


def test_the_category_mapping_covers_exactly_openais_names():
    assert set(OPENAI_CATEGORIES) == set(SCHEMA["$defs"]["result"]["properties"]["categories"]["required"])
    from modpipe.policy import load_policy

    assert unmapped(load_policy().policy.categories) == ["public_figure"]  # documented: no OpenAI name


def test_scan_takes_an_upload_and_never_a_server_path(client, tmp_path):
    video = write_video(tmp_path / "clip.mp4", [scene(t=i / 8) for i in range(16)], fps=8)
    r = client.post("/v1/scan", files={"file": ("../../etc/clip.mp4", video.read_bytes())}, data={"user": "u1"})
    assert r.status_code == 200, r.text
    d = r.json()
    jsonschema.validate(d, decision_schema())
    assert d["kind"] == "scan" and d["input"] == "clip.mp4" and d["error"] is None
    assert d["media"]["frames_sampled"] >= 2 and d["user"] == "u1"
    assert "/tmp" not in r.text and "modpipe-scan-" not in r.text


# ------------------------------------------------------------------ limits and bad input


@pytest.mark.parametrize("body, status, says", [
    ({"prompt": "x" * 2001}, 413, "limit is 2000"),
    ({"prompt": 42}, 422, "string"),
    ({"prompt": ["a"]}, 422, "string"),
    ({}, 422, "Field required"),
    ({"prompt": "hi", "surprise": 1}, 422, "Extra inputs"),
    ({"prompt": "hi", "audience": "martians"}, 422, "unknown audience 'martians'"),
    ({"prompt": "hi", "images": [png()] * 5}, 422, "at most 4"),
    ({"prompt": "hi", "images": ["%%% not base64 %%%"]}, 422, "not valid base64"),
    ({"prompt": "hi", "images": ["https://example.com/cat.png"]}, 422, "remote URLs are not fetched"),
    ({"prompt": "hi", "images": [base64.b64encode(b"GIF89a garbage").decode()]}, 422, "cannot read image"),
    ({"prompt": "hi", "images": [png_declaring(100_000, 100_000)]}, 413, "pixels"),
])
def test_gate_rejects_bad_requests_with_a_clear_status(client, body, status, says):
    r = client.post("/v1/gate", json=body)
    assert r.status_code == status, r.text
    assert says in json.dumps(r.json())


@pytest.mark.parametrize("raw, status, says", [
    (b'{"prompt": "unterminated', 422, "JSON decode error"),
    (b'{"prompt": "\xff\xfe bad bytes"}', 400, "not valid UTF-8"),
    (b'{"prompt": "\\ud800 lone surrogate"}', 422, "lone surrogate"),
    (b'{"prompt": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, "nested too deeply"),
    (b"", 422, "Field required"),
])
def test_gate_rejects_malformed_bodies(client, raw, status, says):
    r = client.post("/v1/gate", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert says in json.dumps(r.json())


def test_bodies_over_the_limit_are_refused_before_and_while_reading(client):
    big = json.dumps({"prompt": "a" * 400_000}).encode()
    r = client.post("/v1/gate", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "limit of 300000 bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit is enforced as bytes arrive
        for _ in range(40):
            yield b"a" * 10_000

    r = client.post("/v1/moderations", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "limit of 300000 bytes" in r.json()["detail"]
    r = client.post("/v1/scan", files={"file": ("big.mp4", b"\0" * 500_000)})
    assert r.status_code == 413
    r = client.post("/v1/moderations", json={"input": ["a"] * 65})
    assert r.status_code == 422


def test_bad_videos_get_review_with_the_error_never_allow(client, tmp_path):
    good = write_video(tmp_path / "good.mp4", [scene(t=i / 8) for i in range(16)], fps=8).read_bytes()
    corpus = {
        "empty.mp4": b"",
        "truncated.mp4": good[: len(good) // 3],
        "notes.mp4": b"just some text, not a video\n" * 40,  # wrong container behind a video name
        "huge.y4m": b"YUV4MPEG2 W65000 H65000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + b"\x80" * 1000,
        "../../../../etc/passwd": b"root:x:0:0:root:/root:/bin/bash\n",
    }
    for name, data in corpus.items():
        r = client.post("/v1/scan", files={"file": (name, data)})
        assert r.status_code == 200, (name, r.text)
        d = r.json()
        assert d["action"] == "review" and d["error"]["type"].endswith("Error"), (name, d)
        assert d["input"] == Path(name).name and "modpipe-scan-" not in r.text
    assert client.post("/v1/scan", data={"path": "/etc/passwd"}).status_code == 422  # no path field exists
    assert client.post("/v1/scan", files={"file": ("a.mp4", good)}, data={"audience": "martians"}).status_code == 422


def test_api_keys_guard_the_v1_endpoints(pipeline, tmp_path):
    app = create_app(pipeline, Settings(home=tmp_path, api_keys="k-one, k-two"))
    with TestClient(app) as c:
        assert c.post("/v1/gate", json={"prompt": "hi"}).status_code == 401
        bad = c.post("/v1/gate", json={"prompt": "hi"}, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
        ok = c.post("/v1/moderations", json={"input": "hi"}, headers={"Authorization": "Bearer k-two"})
        assert ok.status_code == 200
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200
        anonymous_upload = c.post("/v1/scan", files={"file": ("v.mp4", b"\0" * 100_000)})
        assert anonymous_upload.status_code == 401  # refused before the body is read


def test_no_prompt_text_reaches_the_logs(client, caplog):
    secret = "zqxv-secret-prompt-7781"
    with caplog.at_level(logging.DEBUG):
        client.post("/v1/gate", json={"prompt": f"{secret} join isis", "id": "log-1"})
        client.post("/v1/moderations", json={"input": [f"{secret} kill yourself", "a kitten"]})
        client.post("/v1/gate", json={"prompt": secret * 200})  # 413
        client.post("/v1/gate", json={"prompt": secret, "user": ["not", "a", "string"]})  # 422
        client.post("/v1/scan", files={"file": (f"{secret}.mp4", secret.encode())})
    assert "POST /v1/gate status=200" in caplog.text and "status=413" in caplog.text  # logged...
    assert secret not in caplog.text  # ...without their content


# ------------------------------------------------------------------ a real server on loopback


def test_a_real_server_batches_concurrent_requests(pipeline, tmp_path):
    import uvicorn

    app = create_app(pipeline, Settings(home=tmp_path))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)

        async def load():
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
                gates = [c.post("/v1/gate", json={"prompt": f"a cat playing piano, take {i}"}) for i in range(48)]
                mods = [c.post("/v1/moderations", json={"input": TERROR})]
                return await asyncio.gather(*gates, *mods)

        responses = asyncio.run(load())
        assert all(r.status_code == 200 for r in responses)
        assert all(r.json()["action"] == "allow" for r in responses[:-1])
        jsonschema.validate(responses[-1].json(), RESPONSE)
        svc = app.state.service
        assert svc.batcher.requests == 49 and svc.batcher.batches < 49  # shared forwards
    finally:
        server.should_exit = True
        thread.join(timeout=10)
