"""Where shipped data lives: policies/ and models/ at the repo root (source checkout or editable
install), or under modpipe/_data/ inside a wheel. Nothing is loaded from the working directory.
Also how a weights file is named in model ids (`file_sha256`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    for candidate in (_PKG.parents[1] / name, _PKG / "_data" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"modpipe's shipped {name}/ folder is missing (broken install?)")


def policies_dir() -> Path:
    return _data_dir("policies")


def models_dir() -> Path:
    return _data_dir("models")


def default_policy_path() -> Path:
    return policies_dir() / "default.yaml"


CHECKPOINT_PREFIX = 1 << 24  # bytes: the first 16 MiB tell large checkpoints apart, fast


def file_sha256(path: str | Path, limit: int | None = None) -> str:
    """Hex sha256 of a file, or of its first `limit` bytes (`CHECKPOINT_PREFIX` for large
    checkpoints): what model ids and cache keys name weights by. Read in 1 MiB pieces."""
    h = hashlib.sha256()
    left = float("inf") if limit is None else limit
    with open(path, "rb") as f:
        while left > 0 and (chunk := f.read(int(min(1 << 20, left)))):
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()
