"""The sandbox renderer: deterministic, honours size/format/compression/background/mask."""

from __future__ import annotations

import io

from PIL import Image

from pixelgate.core.models import ImageFormat, Size
from pixelgate.providers.sandbox.render import RenderSpec, render
from tests.fakes.images import image_bytes


def spec(**kw: object) -> RenderSpec:
    base: dict[str, object] = {
        "prompt": "a fox",
        "seed": None,
        "size": Size(96, 64),
        "fmt": ImageFormat.PNG,
        "compression": None,
        "transparent": False,
        "edit": False,
        "sources": (),
        "mask": None,
        "index": 0,
    }
    base.update(kw)
    return RenderSpec(**base)  # type: ignore[arg-type]


def test_deterministic_and_input_sensitive() -> None:
    first = render(spec())[0]
    assert render(spec())[0] == first
    assert render(spec(prompt="a wolf"))[0] != first
    assert render(spec(seed=1))[0] != first
    assert render(spec(index=1))[0] != first
    assert render(spec(size=Size(64, 96)))[0] != first


def test_formats_and_compression() -> None:
    for fmt, name in ((ImageFormat.JPEG, "JPEG"), (ImageFormat.WEBP, "WEBP")):
        hi, w, h = render(spec(fmt=fmt, compression=95, size=Size(256, 256)))
        lo, _, _ = render(spec(fmt=fmt, compression=5, size=Size(256, 256)))
        assert Image.open(io.BytesIO(hi)).format == name and (w, h) == (256, 256)
        assert len(lo) < len(hi)


def test_transparent_background_has_alpha() -> None:
    data, _, _ = render(spec(transparent=True))
    img = Image.open(io.BytesIO(data))
    assert img.mode == "RGBA" and img.getchannel("A").getextrema()[0] == 0
    opaque = Image.open(io.BytesIO(render(spec())[0]))
    assert opaque.mode == "RGB"


def test_edit_keeps_unmasked_pixels() -> None:
    src = image_bytes(80, 80, "PNG", (10, 20, 30, 255))
    mask = Image.new("RGBA", (80, 80), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 80, 40))  # top half editable
    buf = io.BytesIO()
    mask.save(buf, "PNG")
    data, w, h = render(spec(edit=True, sources=(src,), mask=buf.getvalue(), size=None))
    out = Image.open(io.BytesIO(data)).convert("RGBA")
    assert (w, h) == (80, 80)
    bottom = out.crop((0, 40, 80, 80))
    assert bottom.getcolors() == [(80 * 40, (10, 20, 30, 255))]
