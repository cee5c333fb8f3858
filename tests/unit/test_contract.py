"""Contract checks from the shipped catalog data."""

from __future__ import annotations

import pytest

from pixelgate.catalog import load_catalog
from pixelgate.core.models import ImageFormat, ImageRequest, Operation, Size
from pixelgate.errors import InvalidParameter


def check(**kw: object) -> ImageRequest:
    req = ImageRequest(model="sandbox-image", prompt="x", **kw)  # type: ignore[arg-type]
    return load_catalog().contract("sandbox-image").check(req)


def test_defaults_filled() -> None:
    req = check()
    assert req.size == Size(1024, 1024) and req.output_format is ImageFormat.PNG
    assert check(operation=Operation.EDIT).size is None


@pytest.mark.parametrize(
    ("kw", "param"),
    [
        ({"n": 0}, "n"),
        ({"size": Size(5000, 100)}, "size"),
        ({"size": Size(4000, 100)}, "size"),
        ({"quality": "hd"}, "quality"),
        ({"background": "glass"}, "background"),
        ({"background": "transparent", "output_format": ImageFormat.JPEG}, "background"),
        ({"output_compression": 10}, "output_compression"),
        ({"operation": Operation.VARIATION}, "model"),
    ],
)
def test_violations_name_param(kw: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        check(**kw)
    assert info.value.param == param


def test_size_parse() -> None:
    assert Size.parse("1280*720") == Size(1280, 720)
    assert str(Size.parse(" 64 x 32 ")) == "64x32"
    with pytest.raises(InvalidParameter):
        Size.parse("64x")


async def test_convert_and_inspect() -> None:
    from pixelgate.core.imaging import convert, inspect_image
    from tests.fakes.images import image_bytes

    png = image_bytes(40, 30, "PNG")
    assert await inspect_image(png, "image") == (ImageFormat.PNG, 40, 30)
    jpeg = await convert(png, ImageFormat.JPEG, 50)
    assert await inspect_image(jpeg, "image") == (ImageFormat.JPEG, 40, 30)
    webp = await convert(png, ImageFormat.WEBP, None)
    assert (await inspect_image(webp, "image"))[0] is ImageFormat.WEBP
    with pytest.raises(InvalidParameter) as info:
        await inspect_image(b"GIF89a" + b"\0" * 20, "mask")
    assert info.value.param == "mask"
