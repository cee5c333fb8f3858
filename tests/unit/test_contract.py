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
