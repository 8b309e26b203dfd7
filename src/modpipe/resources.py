"""Shared, lazily loaded models and services for one Pipeline (or one Ray actor).

Several scorers use the same heavy object (the MiniLM encoder serves the text scorer, the name
matcher and exemplars; the likeness registry serves faces and names). `Resources.get(key,
factory)` loads each once, thread-safely, and `close()` releases them all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from modpipe.settings import Settings, get_settings

T = TypeVar("T")


class Resources:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._items: dict[str, Any] = {}
        self._lock = threading.RLock()

    def get(self, key: str, factory: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._items:
                self._items[key] = factory()
            return self._items[key]

    def set(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[key] = value

    def close(self) -> None:
        with self._lock:
            for item in self._items.values():
                close = getattr(item, "close", None)
                if callable(close):
                    close()
            self._items.clear()


def configure_threads(n: int) -> None:
    """Cap intra-op threads of torch/onnxruntime/OpenCV (2-core machines oversubscribe easily).

    numpy's BLAS runs on one thread: modpipe's matrices there are small (heads, exemplar banks,
    mel filters), and OpenBLAS's idle workers spin on the cores onnxruntime needs next — with
    them on, the HTTP gate served 184–211 req/s; with one BLAS thread, 332 req/s.
    """
    import os

    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")

    os.environ.setdefault("OMP_NUM_THREADS", str(n))
    try:
        import cv2

        cv2.setNumThreads(n)
    except ImportError:  # pragma: no cover - cv2 is a core dependency
        pass
    try:
        import torch

        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
    except ImportError:  # pragma: no cover
        pass
