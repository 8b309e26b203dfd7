"""The HTTP service when things go wrong: slow or crashing scorers, models still loading, a
poisoned request in a batch, and random request bodies. Never an allow without a verdict.

A scripted scorer (registered like any real one) reads the prompt as a script: `hit` scores 1,
`boom` raises, `slow` sleeps past the deadline; `wait-for-load` policies block in `__init__`
until the test releases them. No real models load here, so these tests are quick.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from pydantic import BaseModel, ConfigDict

from modpipe.pipeline import Pipeline
from modpipe.policy import parse_policy
from modpipe.scorers import register
from modpipe.scorers.base import Scorer
from modpipe.serve import create_app
from modpipe.serve.batcher import GateBatcher
from modpipe.settings import Settings
from modpipe.types import TEXT_MODALITIES, Score

LOADED = threading.Event()


class ScriptParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    wait_for_load: bool = False


@register
class ServeScripted(Scorer):
    type = "serve_scripted"
    modalities = TEXT_MODALITIES
    Params = ScriptParams

    @classmethod
    def outputs(cls, params):
        return frozenset({"bad"})

    def __init__(self, name, params, resources):
        super().__init__(name, params, resources)
        if params.wait_for_load:
            LOADED.wait(timeout=30)

    @property
    def model_id(self):
        return "serve-scripted@1"

    def score(self, samples):
        out = []
        for s in samples:
            if "boom" in s.text:
                raise RuntimeError("scripted crash")
            if "slow" in s.text:
                time.sleep(1.0)
            out.append(Score(self.name, "bad", 1.0 if "hit" in s.text else 0.0, s.index, s.modality))
        return out


def policy_yaml(wait_for_load: bool = False, on_unavailable: str = "review") -> str:
    return textwrap.dedent(f"""
        version: 1
        name: scripted
        audiences: [teen]
        scorers:
          s: {{type: serve_scripted, params: {{wait_for_load: {str(wait_for_load).lower()}}}}}
        categories:
          bad:
            signals: [{{scorer: s, label: bad}}]
            review_at: 0.5
            block_at: 0.9
            on_unavailable: {on_unavailable}
    """)


def scripted_policy(**kw):
    return parse_policy(policy_yaml(**kw))


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(home=tmp_path_factory.mktemp("home"), request_timeout_s=0.3, max_prompt_chars=500)
    app = create_app(Pipeline(scripted_policy(), settings), settings, batch_window_ms=20)
    with TestClient(app) as c:
        yield c


def test_a_scored_prompt_is_decided_normally(client):
    assert client.post("/v1/gate", json={"prompt": "fine"}).json()["action"] == "allow"
    assert client.post("/v1/gate", json={"prompt": "a hit"}).json()["action"] == "block"


def test_a_crashing_scorer_gives_review_with_the_reason(client):
    d = client.post("/v1/gate", json={"prompt": "boom"}).json()
    assert d["action"] == "review"
    assert any(s["scorer"] == "s" and s["status"] == "failed" for s in d["scorers"])
    assert any("RuntimeError" in r for r in d["reasons"])


def test_past_the_deadline_the_answer_is_review_not_allow(client):
    r = client.post("/v1/gate", json={"prompt": "slow but harmless", "id": "t1"})
    assert r.status_code == 200
    d = r.json()
    assert d["action"] == "review" and d["id"] == "t1"
    assert d["error"]["type"] == "ScorerTimeout" and "0.3s" in d["error"]["message"]
    assert d["categories"]["bad"]["action"] == "review"
    assert any(s["status"] == "timeout" for s in d["scorers"])
    # OpenAI clients see it flagged
    m = client.post("/v1/moderations", json={"input": "slow"}).json()["results"][0]
    assert m["flagged"] is True and m["modpipe"]["error"]["type"] == "ScorerTimeout"


def test_where_the_policy_says_block_on_unavailable_a_timeout_blocks(tmp_path):
    settings = Settings(home=tmp_path, request_timeout_s=0.2)
    app = create_app(Pipeline(scripted_policy(on_unavailable="block"), settings), settings)
    with TestClient(app) as c:
        assert c.post("/v1/gate", json={"prompt": "slow"}).json()["action"] == "block"


def test_one_poisoned_prompt_does_not_turn_its_batch_neighbours_into_review(tmp_path):
    pipe = Pipeline(scripted_policy(), Settings(home=tmp_path))
    batcher = GateBatcher(pipe.gate_many, window_s=0.05)

    async def both():
        try:
            return await asyncio.gather(batcher.submit({"text": "fine"}), batcher.submit({"text": "boom"}))
        finally:
            await batcher.close()

    fine, poisoned = asyncio.run(both())
    assert batcher.batches == 1  # they did share one batch
    assert fine.action == "allow" and fine.scorers == []
    assert poisoned.action == "review"


def test_readyz_is_503_until_models_load_and_gate_says_so(tmp_path):
    path = tmp_path / "slow.yaml"
    path.write_text(policy_yaml(wait_for_load=True))
    LOADED.clear()
    app = create_app(settings=Settings(home=tmp_path), policy=path)
    with TestClient(app) as c:
        assert c.get("/healthz").status_code == 200  # alive while loading
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["status"] == "loading"
        g = c.post("/v1/gate", json={"prompt": "hi"})
        assert g.status_code == 503 and "still loading" in g.json()["detail"]
        assert g.headers["retry-after"]
        LOADED.set()
        for _ in range(100):
            if c.get("/readyz").status_code == 200:
                break
            time.sleep(0.05)
        assert c.get("/readyz").json()["status"] == "ready"
        assert c.post("/v1/gate", json={"prompt": "hi"}).json()["action"] == "allow"


def test_a_policy_that_cannot_load_keeps_readyz_503_with_the_reason(tmp_path):
    app = create_app(settings=Settings(home=tmp_path), policy=tmp_path / "missing.yaml")
    with TestClient(app) as c:
        for _ in range(100):
            if c.get("/readyz").json()["status"] != "loading":
                break
            time.sleep(0.05)
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["status"] == "failed"
        assert "policy file not found" in r.json()["error"]
        assert c.post("/v1/gate", json={"prompt": "hi"}).status_code == 503


def test_serve_refuses_a_bad_policy_before_starting_and_the_cli_stays_light(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(policy_yaml().replace("review_at: 0.5", "reveiw_at: 0.5"))
    r = subprocess.run([sys.executable, "-m", "modpipe.cli.main", "serve", "--policy", str(bad)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 3 and "bad.yaml:line 9: categories.bad.review_at" in r.stderr
    light = subprocess.run([sys.executable, "-c", "import sys, modpipe.cli.main, modpipe.serve; "
                            "print(sorted({'fastapi', 'uvicorn', 'torch'} & set(sys.modules)))"],
                           capture_output=True, text=True, timeout=120)
    assert light.stdout.strip() == "[]", light.stderr


# ------------------------------------------------------------------ fuzzing the request schemas

texts = st.text(max_size=40) | st.text(st.characters(categories=["Cs"]) | st.characters(), max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
gate_bodies = st.fixed_dictionaries(
    {}, optional={"prompt": json_values | st.text(max_size=600), "user": json_values,
                  "audience": st.sampled_from(["teen", "adult", None]) | json_values,
                  "images": json_values, "id": json_values, "extra": json_values},
)
moderation_bodies = st.fixed_dictionaries(
    {}, optional={"input": json_values | st.lists(st.text(max_size=50), max_size=70)
                  | st.lists(st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "x"]),
                                                    "text": json_values}), max_size=3),
                  "model": json_values},
)


def post_json(client, path, body):
    r = client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})
    assert r.status_code in (200, 413, 422), r.text
    assert r.status_code == 200 or r.json()["detail"]  # a 4xx always says why
    return r


fuzz = hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@fuzz
@given(body=gate_bodies)
def test_any_json_body_to_gate_gets_a_decision_or_a_clear_4xx(client, body):
    r = post_json(client, "/v1/gate", body)
    if r.status_code == 200:
        d = r.json()
        assert d["action"] in ("allow", "review", "block")
        assert d["action"] != "allow" or (d["error"] is None and d["scorers"] == [])


@fuzz
@given(body=moderation_bodies)
def test_any_json_body_to_moderations_gets_results_or_a_clear_4xx(client, body):
    r = post_json(client, "/v1/moderations", body)
    if r.status_code == 200:
        inp = body["input"]
        n = len(inp) if isinstance(inp, list) and inp and isinstance(inp[0], str) else 1
        assert len(r.json()["results"]) == n
