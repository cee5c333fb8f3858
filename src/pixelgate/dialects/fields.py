"""Typed readers for loosely-typed client fields (JSON values or multipart strings)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pixelgate.core.models import ImageFormat, ImageInput, ResponseFormat, Size
from pixelgate.errors import InvalidParameter

__all__ = [
    "opt_bool",
    "opt_format",
    "opt_int",
    "opt_size",
    "opt_str",
    "parse_data_url",
    "reference_images",
    "req_str",
    "response_format",
]


def opt_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParameter(f"{name} must be a string.", param=name)
    return value


def req_str(body: dict[str, Any], name: str) -> str:
    value = opt_str(body, name)
    if value is None or not value.strip():
        raise InvalidParameter(f"{name} is required.", param=name)
    return value


def opt_int(body: dict[str, Any], name: str, form: bool = False) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if form and isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise InvalidParameter(f"{name} must be an integer.", param=name) from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameter(f"{name} must be an integer.", param=name)
    return value


def opt_bool(body: dict[str, Any], name: str, form: bool = False) -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    if form and isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if not isinstance(value, bool):
        raise InvalidParameter(f"{name} must be a boolean.", param=name)
    return value


def opt_size(body: dict[str, Any], name: str = "size") -> Size | None:
    value = opt_str(body, name)
    if value is None or value.strip().lower() == "auto":
        return None
    return Size.parse(value, name)


def opt_format(body: dict[str, Any], name: str = "output_format") -> ImageFormat | None:
    value = opt_str(body, name)
    return None if value is None else ImageFormat.parse(value, name)


def response_format(body: dict[str, Any], default: ResponseFormat) -> ResponseFormat:
    value = opt_str(body, "response_format")
    if value is None:
        return default
    try:
        return ResponseFormat(value)
    except ValueError:
        raise InvalidParameter(
            f"Invalid response_format {value!r}: expected 'url' or 'b64_json'.",
            param="response_format",
        ) from None


def parse_data_url(value: str, param: str) -> ImageInput:
    """An http(s) URL stays a URL; a `data:` URL is decoded to bytes."""
    if value.startswith(("http://", "https://")):
        return ImageInput(url=value, param=param)
    if not value.startswith("data:"):
        raise InvalidParameter(f"{param} must be an http(s) URL or a data URL.", param=param)
    header, sep, payload = value.partition(",")
    if not sep or ";base64" not in header:
        raise InvalidParameter(f"{param} must be a base64 data URL.", param=param)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameter(f"{param} contains invalid base64.", param=param) from None
    return ImageInput(data=data, content_type=header[5:].split(";", 1)[0] or None, param=param)


def reference_images(body: dict[str, Any], field: str = "image") -> tuple[ImageInput, ...]:
    """Reference images given as one URL / data URI or a list of them (Ark's `image`)."""
    value = body.get(field)
    if value is None:
        return ()
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) for v in values):
        raise InvalidParameter(f"{field} must be a URL or a list of URLs.", param=field)
    return tuple(
        parse_data_url(v, field if len(values) == 1 else f"{field}[{i}]")
        for i, v in enumerate(values)
    )
