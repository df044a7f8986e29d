"""Images for logo tests, made with Pillow: real PNG and JPEG files of a chosen size."""

from __future__ import annotations

import base64
import os
from io import BytesIO

from PIL import Image


def image_bytes(
    kind: str = "PNG", size: tuple[int, int] = (120, 40), noise: bool = False, mode: str = "RGB"
) -> bytes:
    """An image file in pixel ``mode``; ``noise`` fills it with random pixels, which compress
    to nothing."""
    if noise:
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, (15, 118, 110)).convert(mode)
    buffer = BytesIO()
    image.save(buffer, format=kind)
    return buffer.getvalue()


def data_uri(content: bytes, declared: str = "image/png") -> str:
    return f"data:{declared};base64,{base64.b64encode(content).decode('ascii')}"
