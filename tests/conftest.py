"""Shared fixtures. Models load once per session; every test gets its own MODPIPE_HOME."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# ../shared/data next to the checkout (also found from a worktree nested one level deeper)
SHARED_DATA = next(
    (p / "shared" / "data" for p in Path(__file__).resolve().parents[1:4] if (p / "shared" / "data").is_dir()),
    Path(__file__).resolve().parents[2] / "shared" / "data",
)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MODPIPE_HOME", str(tmp_path / "modpipe-home"))
    from modpipe.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory):
    """The default policy's Pipeline with real models (loaded once for the whole session)."""
    from modpipe.pipeline import Pipeline
    from modpipe.settings import Settings

    home = tmp_path_factory.mktemp("session-home")
    p = Pipeline.from_policy(settings=Settings(home=home))
    yield p
    p.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"development data not found at {SHARED_DATA} (see shared/data/README.md)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory):
    """A 2-layer open_clip model config (registered as 'tiny-clip') and random weights."""
    import open_clip
    import torch

    d = tmp_path_factory.mktemp("clip")
    cfg = {"embed_dim": 32,
           "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 4, "layers": 2}}
    (d / "tiny-clip.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(str(d / "tiny-clip.json"))
    torch.manual_seed(0)
    model = open_clip.create_model("tiny-clip")
    torch.save(model.state_dict(), d / "tiny-clip.pt")
    return d
