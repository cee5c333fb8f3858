"""Canonical ImageRequest → Gemini `generateContent` body (doc §3.2).

    POST {base}/v1beta/models/gemini-3-pro-image-preview:generateContent
    {"contents": [{"role": "user", "parts": [
        {"text": "make it a watercolor"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo..."}}]}],
     "generationConfig": {"responseModalities": ["IMAGE"],
                          "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"}}}

The contract has already checked aspect_ratio and resolution, so `imageSize` is only ever
sent to models that have one. One call makes one image (candidateCount is 1); the pipeline
fans `n` out. Clients that can take a text-only answer (chat, Gemini native) ask for
TEXT and IMAGE; /v1/images/* ask for IMAGE alone.
"""

from __future__ import annotations

import base64
from typing import Any

from pixelgate.core.models import ImageRequest

__all__ = ["generate_body"]


def generate_body(req: ImageRequest) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"text": req.prompt}] if req.prompt.strip() else []
    for image in req.images:
        if image.data is None:  # the pipeline loads every input image before this
            continue
        parts.append(
            {
                "inlineData": {
                    "mimeType": image.content_type or "image/png",
                    "data": base64.b64encode(image.data).decode("ascii"),
                }
            }
        )
    config: dict[str, Any] = {
        "responseModalities": ["TEXT", "IMAGE"] if req.accept_text else ["IMAGE"]
    }
    image_config: dict[str, str] = {}
    if req.aspect_ratio:
        image_config["aspectRatio"] = req.aspect_ratio
    if req.resolution:
        image_config["imageSize"] = req.resolution.upper()  # Gemini spells it "1K", "2K"
    if image_config:
        config["imageConfig"] = image_config
    if req.seed is not None:
        config["seed"] = req.seed
    return {"contents": [{"role": "user", "parts": parts}], "generationConfig": config}
