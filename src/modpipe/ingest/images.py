"""Reference images for the gate: a path or raw bytes → RGB uint8 array, with clear errors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from modpipe.errors import InputError, InputTooLargeError

MAX_PIXELS = 40_000_000


def load_image(src: str | Path | bytes | np.ndarray) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if isinstance(src, np.ndarray):
        if src.ndim != 3 or src.shape[2] != 3 or src.dtype != np.uint8:
            raise InputError(f"image array must be H×W×3 uint8 RGB, got {src.shape} {src.dtype}")
        return src
    name = "<bytes>" if isinstance(src, bytes) else Path(src).name
    try:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        with Image.open(io.BytesIO(src) if isinstance(src, bytes) else Path(src)) as im:
            im.draft("RGB", (2048, 2048))
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise InputError(f"no such image: {src}") from None
    except Image.DecompressionBombError:
        raise InputTooLargeError(f"image {name} has more than {MAX_PIXELS} pixels") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"cannot read image {name}: {exc}") from None
