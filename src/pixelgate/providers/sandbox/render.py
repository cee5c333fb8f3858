"""Deterministic abstract pictures with Pillow (synchronous; call from a worker thread)."""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageOps

from pixelgate.core.models import ImageFormat, Size

__all__ = ["RenderSpec", "coarse_preview", "render"]

_DEFAULT = Size(1024, 1024)


@dataclass(frozen=True, slots=True)
class RenderSpec:
    prompt: str
    seed: int | None
    size: Size | None
    fmt: ImageFormat
    compression: int | None
    transparent: bool
    edit: bool
    sources: tuple[bytes, ...]
    mask: bytes | None
    index: int


def _rng(spec: RenderSpec, size: Size) -> random.Random:
    h = hashlib.sha256()
    for part in (spec.prompt, str(spec.seed), str(size), str(spec.edit), str(spec.index)):
        h.update(part.encode())
        h.update(b"\0")
    for src in spec.sources:
        h.update(hashlib.sha256(src).digest())
    if spec.mask is not None:
        h.update(hashlib.sha256(spec.mask).digest())
    return random.Random(h.digest())


def _color(rng: random.Random, alpha: int = 255) -> tuple[int, int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256), alpha)


def _background(rng: random.Random, size: Size, transparent: bool) -> Image.Image:
    if transparent:
        return Image.new("RGBA", (size.width, size.height), (0, 0, 0, 0))
    top = Image.new("RGBA", (size.width, size.height), _color(rng))
    bottom = Image.new("RGBA", (size.width, size.height), _color(rng))
    gradient = Image.linear_gradient("L").resize((size.width, size.height))
    return Image.composite(bottom, top, gradient)


def _shapes(rng: random.Random, size: Size) -> Image.Image:
    layer = Image.new("RGBA", (size.width, size.height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    w, h = size.width, size.height
    for _ in range(rng.randint(4, 9)):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        x1 = min(w, x0 + rng.randint(max(1, w // 10), max(2, w // 2)))
        y1 = min(h, y0 + rng.randint(max(1, h // 10), max(2, h // 2)))
        box = (x0, y0, max(x0 + 1, x1), max(y0 + 1, y1))
        if rng.random() < 0.5:
            draw.ellipse(box, fill=_color(rng, 230))
        else:
            draw.rectangle(box, fill=_color(rng, 230))
    return layer


def _caption(img: Image.Image, prompt: str) -> None:
    """Label the picture so nobody mistakes it for a model's output."""
    size = max(10, min(img.width, img.height) // 28)
    font = ImageFont.load_default(size=size)
    text = "sandbox · " + (prompt if len(prompt) <= 48 else prompt[:47] + "…")
    draw = ImageDraw.Draw(img)
    draw.text((size // 2 + 1, size // 2 + 1), text, fill=(0, 0, 0, 255), font=font)
    draw.text((size // 2, size // 2), text, fill=(255, 255, 255, 255), font=font)


def _edit_base(spec: RenderSpec) -> Image.Image:
    opened = Image.open(io.BytesIO(spec.sources[0]))
    base: Image.Image = ImageOps.exif_transpose(opened).convert("RGBA")
    if spec.size is not None and (base.width, base.height) != (spec.size.width, spec.size.height):
        base = base.resize((spec.size.width, spec.size.height), Image.Resampling.LANCZOS)
    return base


def _thumbnails(base: Image.Image, sources: tuple[bytes, ...]) -> Image.Image:
    out = base.copy()
    thumb_edge = max(8, min(out.width, out.height) // 5)
    x = 4
    for src in sources:
        thumb = Image.open(io.BytesIO(src)).convert("RGBA")
        thumb.thumbnail((thumb_edge, thumb_edge))
        out.alpha_composite(thumb, (x, max(0, out.height - thumb.height - 4)))
        x += thumb.width + 4
        if x >= out.width:
            break
    return out


def _editable_area(mask_bytes: bytes, size: tuple[int, int]) -> Image.Image:
    """'L' image, 255 where the mask is fully transparent (the area to edit)."""
    mask = Image.open(io.BytesIO(mask_bytes)).convert("RGBA").resize(size)
    alpha = mask.getchannel("A")
    return ImageChops.invert(alpha.point(lambda a: 255 if a > 0 else 0))


def _encode(img: Image.Image, fmt: ImageFormat, compression: int | None) -> bytes:
    buf = io.BytesIO()
    if fmt is ImageFormat.JPEG:
        img.convert("RGB").save(buf, "JPEG", quality=compression if compression else 90)
    elif fmt is ImageFormat.WEBP:
        img.save(buf, "WEBP", quality=compression if compression is not None else 90)
    else:
        img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def render(spec: RenderSpec) -> tuple[bytes, int, int]:
    """Return (encoded bytes, width, height) for `spec`."""
    if spec.edit and spec.sources:
        base = _edit_base(spec)
        size = Size(base.width, base.height)
        rng = _rng(spec, size)
        edited = base.copy()
        edited.alpha_composite(_shapes(rng, size))
        if len(spec.sources) > 1:
            edited = _thumbnails(edited, spec.sources[1:])
        if spec.mask is not None:
            edited = Image.composite(edited, base, _editable_area(spec.mask, base.size))
        img = edited
    else:
        size = spec.size or _DEFAULT
        rng = _rng(spec, size)
        img = _background(rng, size, spec.transparent)
        img.alpha_composite(_shapes(rng, size))
        _caption(img, spec.prompt)
    if not spec.transparent and spec.fmt is not ImageFormat.JPEG and not spec.edit:
        img = img.convert("RGB")
    return _encode(img, spec.fmt, spec.compression), img.width, img.height


def coarse_preview(data: bytes, fmt: ImageFormat, step: int, steps: int) -> bytes:
    """A blocky preview of the final image, sharper with each step (for streamed partials)."""
    img = Image.open(io.BytesIO(data))
    img.load()
    factor = 2 ** (steps - step + 1)
    small = img.resize((max(1, img.width // factor), max(1, img.height // factor)))
    return _encode(small.resize(img.size, Image.Resampling.NEAREST), fmt, None)
