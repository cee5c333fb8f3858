"""Reference images on `POST /v1/images/generations` (seed 003): `"operation":
"image-to-image"` with `image_url`, `image_urls` and/or `reference_image_urls` (http(s) or
data URLs) in JSON, or `image` files in a multipart body.

    {"model": "nano-banana", "prompt": "put the cat in a spacesuit",
     "operation": "image-to-image", "image_urls": ["https://example.com/cat.png"],
     "aspect_ratio": "1:1"}

Reference images without `operation` mean image-to-image; `operation: "generate"` (or
"text-to-image") with reference images, or image-to-image without any, is a 400.
"""

from __future__ import annotations

from typing import Any

from pixelgate.core.models import ImageInput, Operation
from pixelgate.dialects.fields import opt_str, parse_data_url
from pixelgate.errors import InvalidParameter

__all__ = ["generation_operation", "references"]

_IMAGE_TO_IMAGE = frozenset({"image-to-image", "image_to_image"})
_GENERATE = frozenset({"generate", "generation", "text-to-image", "text_to_image"})


def references(body: dict[str, Any]) -> tuple[ImageInput, ...]:
    refs: list[ImageInput] = []
    single = body.get("image_url")
    if single is not None:
        if not isinstance(single, str):
            raise InvalidParameter("image_url must be a URL string.", param="image_url")
        refs.append(parse_data_url(single, "image_url"))
    for name in ("image_urls", "reference_image_urls"):
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidParameter(f"{name} must be an array of URL strings.", param=name)
        refs += [parse_data_url(v, f"{name}[{i}]") for i, v in enumerate(value)]
    return tuple(refs)


def generation_operation(body: dict[str, Any], has_references: bool) -> Operation:
    value = opt_str(body, "operation")
    name = value.strip().lower() if value is not None else None
    if name is None:
        return Operation.IMAGE_TO_IMAGE if has_references else Operation.GENERATE
    if name in _IMAGE_TO_IMAGE:
        if not has_references:
            raise InvalidParameter(
                "operation image-to-image needs reference images: send image_url, image_urls "
                "or reference_image_urls, or a multipart image file.",
                param="image_urls",
            )
        return Operation.IMAGE_TO_IMAGE
    if name in _GENERATE:
        if has_references:
            raise InvalidParameter(
                "Reference images need operation image-to-image.", param="operation"
            )
        return Operation.GENERATE
    raise InvalidParameter(
        f"Invalid operation {value!r}: expected generate or image-to-image.", param="operation"
    )
