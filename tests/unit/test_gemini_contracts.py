"""Gemini model contracts from the shipped catalog: aspect_ratio, resolution, size alias,
image-to-image rules, input limits."""

from __future__ import annotations

import pytest

from pixelgate.catalog import load_catalog
from pixelgate.catalog.geometry import nearest_ratio, nearest_resolution
from pixelgate.core.models import ImageInput, ImageRequest, Operation, Size
from pixelgate.errors import InvalidParameter

REF = ImageInput(data=b"x")


def check(model: str, **kw: object) -> ImageRequest:
    req = ImageRequest(model=model, prompt="a kite", **kw)  # type: ignore[arg-type]
    return load_catalog().contract(model).check(req)


@pytest.mark.parametrize(
    ("model", "kw", "ratio", "resolution"),
    [
        ("gemini-3-pro-image-preview", {"aspect_ratio": "16:9", "resolution": "2K"}, "16:9", "2k"),
        (
            "gemini-3.1-flash-image-preview",
            {"aspect_ratio": "1:8", "resolution": "512"},
            "1:8",
            "512",
        ),
        ("gemini-2.5-flash-image", {"aspect_ratio": "21:9"}, "21:9", None),
        ("nano-banana-pro", {"resolution": "4k"}, None, "4k"),
        # size is an alias: nearest ratio, and the nearest resolution tier where allowed
        ("gemini-3-pro-image-preview", {"size": Size(1536, 1024)}, "3:2", "1k"),
        ("gemini-3-pro-image-preview", {"size": Size(2048, 2048)}, "1:1", "2k"),
        ("gemini-3-pro-image-preview", {"size": Size(2816, 1536)}, "16:9", "2k"),
        ("gemini-3-pro-image-preview", {"size": Size(5632, 3072)}, "16:9", "4k"),
        ("gemini-3-pro-image-preview", {"size": Size(1536, 672)}, "21:9", "1k"),
        ("gemini-2.5-flash-image", {"size": Size(1792, 1024)}, "16:9", None),
        ("nano-banana", {"size": Size(1024, 1792)}, "9:16", None),
        # explicit fields win over the alias
        (
            "gemini-3-pro-image-preview",
            {"size": Size(1024, 1024), "aspect_ratio": "4:5"},
            "4:5",
            "1k",
        ),
        # Nano Banana image-to-image: the alias maps the ratio only (seed 003)
        (
            "nano-banana-2",
            {"size": Size(2048, 2048), "operation": Operation.IMAGE_TO_IMAGE, "images": (REF,)},
            "1:1",
            None,
        ),
    ],
)
def test_geometry_accepted(
    model: str, kw: dict[str, object], ratio: str | None, resolution: str | None
) -> None:
    req = check(model, **kw)
    assert (req.aspect_ratio, req.resolution, req.size) == (ratio, resolution, None)


@pytest.mark.parametrize(
    ("model", "kw", "param"),
    [
        ("gemini-2.5-flash-image", {"resolution": "2k"}, "resolution"),
        ("nano-banana", {"resolution": "1k"}, "resolution"),
        ("gemini-3-pro-image-preview", {"resolution": "8k"}, "resolution"),
        ("gemini-3-pro-image-preview", {"aspect_ratio": "1:8"}, "aspect_ratio"),
        ("gemini-2.5-flash-image", {"aspect_ratio": "square"}, "aspect_ratio"),
        (
            "nano-banana-pro",
            {"resolution": "2k", "operation": Operation.IMAGE_TO_IMAGE, "images": (REF,)},
            "resolution",
        ),
        ("gemini-2.5-flash-image", {"images": (REF,) * 4, "operation": Operation.EDIT}, "image"),
        (
            "gemini-3-pro-image-preview",
            {"mask": REF, "images": (REF,), "operation": Operation.EDIT},
            "mask",
        ),
        ("gemini-3-pro-image-preview", {"n": 5}, "n"),
        ("nano-banana-edit", {}, "model"),
        ("sandbox-image", {"aspect_ratio": "7:1"}, "aspect_ratio"),
    ],
)
def test_geometry_refused_names_param(model: str, kw: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        check(model, **kw)
    assert info.value.param == param


def test_gemini_3_pro_image_to_image_keeps_resolution() -> None:
    req = check(
        "gemini-3-pro-image-preview",
        resolution="2k",
        operation=Operation.IMAGE_TO_IMAGE,
        images=(REF,),
    )
    assert req.resolution == "2k"


def test_nearest_helpers() -> None:
    ratios = ("1:1", "16:9", "9:16", "auto")
    assert nearest_ratio(Size(1000, 560), ratios) == "16:9"
    assert nearest_ratio(Size(10, 10), ("auto",)) is None
    assert nearest_resolution(Size(640, 480), ("512", "1k")) == "512"
    assert nearest_resolution(Size(5000, 5000), ("1k", "2k")) == "2k"
    assert nearest_resolution(Size(1024, 1024), ()) is None
