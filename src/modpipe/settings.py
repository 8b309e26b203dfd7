"""Deployment knobs, read from `MODPIPE_*` environment variables (pydantic-settings).

Policy decides *what* is moderated; settings decide *where and how* modpipe runs: state
directory, model weight paths, threads, server limits, Ray address.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODPIPE_", extra="ignore", frozen=True)

    home: Path = Field(
        default=Path("~/.modpipe"),
        description="where state lives: likeness/consent registry, audit log, caches",
    )
    cache: Path = Field(
        default=Path("~/.cache/modpipe"),
        description="derived model files (MiniLM exported to ONNX), shareable across homes",
    )
    policy: Path | None = Field(None, description="policy file; default: the shipped default.yaml")
    clip_weights: Path | None = Field(
        None, description="open_clip checkpoint (.pt/.bin/.safetensors) for the CLIP scorer"
    )
    whisper_model: str | None = Field(
        None, description="ASR model: a faster-whisper/CT2 folder, or an openai-whisper .pt file"
    )
    device: str = Field("cpu", description="torch device for torch-based scorers")
    threads: int = Field(2, ge=1, le=256, description="intra-op threads per model")
    text_backend: Literal["onnx", "torch"] = Field(
        "onnx", description="MiniLM runtime: onnxruntime (exported once into the cache) or eager torch"
    )
    text_tuned: bool = Field(
        True, description="lay the shipped fine-tuned top layers (models/minilm_tuned.safetensors) over "
        "MiniLM; the shipped heads are trained for them, so turning this off makes the text scorer "
        "report its heads unavailable"
    )
    translate: Literal["read", "add", "off"] = Field(
        "read", description="prompts, on-screen text and speech in other languages (modpipe.text.translate: lingua finds the language, "
        "Apertium translates Spanish, French, Portuguese, Italian, Catalan and Romanian): `read` the English translation "
        "instead of the prompt when the language is clear and the translator knew most words; `add` it "
        "as one more variant, the worst counts (flags nearly every such prompt, as the English models "
        "cannot read the original); `off`. Without Apertium installed they are scored as written"
    )
    ray_address: str | None = None
    max_prompt_chars: int = Field(8_000, ge=1)
    max_upload_bytes: int = Field(200 * 1024 * 1024, ge=1)
    max_json_bytes: int = Field(
        8 * 1024 * 1024, ge=1, description="largest JSON request body the HTTP service reads"
    )
    request_timeout_s: float = Field(30.0, gt=0)
    api_keys: str | None = Field(None, description="comma-separated API keys; unset = no auth")
    log_level: str = "INFO"

    @field_validator("home", "cache", "policy", "clip_weights", mode="after")
    @classmethod
    def _expand(cls, v: Path | None) -> Path | None:
        return v.expanduser() if v is not None else None

    def state_dir(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home

    @property
    def registry_path(self) -> Path:
        return self.state_dir() / "likeness.sqlite3"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
