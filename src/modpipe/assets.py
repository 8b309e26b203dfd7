"""Where shipped data lives: policies/ and models/ at the repo root (source checkout or editable
install), or under modpipe/_data/ inside a wheel. Nothing is loaded from the working directory.
"""

from __future__ import annotations

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
