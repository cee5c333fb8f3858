"""Gemini `GenerateContentResponse` → canonical ImageResult (doc §3.3).

    {"candidates": [{"content": {"role": "model", "parts": [
        {"text": "Here is your image."},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo..."},
         "thoughtSignature": "..."}]}, "finishReason": "STOP", "index": 0}],
     "usageMetadata": {"promptTokenCount": 563, "candidatesTokenCount": 1125,
        "thoughtsTokenCount": 180, "totalTokenCount": 1868,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 3},
                                {"modality": "IMAGE", "tokenCount": 560}],
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1120},
                                    {"modality": "TEXT", "tokenCount": 5}]}}

Blocks arrive as HTTP 200: `promptFeedback.blockReason`, or a candidate whose finishReason
is SAFETY, IMAGE_SAFETY, PROHIBITED_CONTENT, NO_IMAGE, … — each becomes a ContentPolicyError,
so no client ever gets a 200 without an image from a block. Thought parts are skipped.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from pixelgate.core.models import GeneratedImage, ImageFormat, ImageResult, Usage
from pixelgate.errors import ContentPolicyError, InvalidParameter, UpstreamBadResponse

__all__ = ["BLOCK_REASONS", "check_blocked", "load", "parse_answer", "usage_of"]

BLOCK_REASONS = frozenset(
    {"SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT", "BLOCKLIST"}
    | {"SPII", "RECITATION", "IMAGE_RECITATION", "NO_IMAGE"}
)
_MESSAGE_CHARS = 300


def load(body: bytes | str) -> dict[str, Any]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UpstreamBadResponse("The upstream's answer is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise UpstreamBadResponse("The upstream's answer is not a JSON object.")
    return payload


def _candidate(payload: dict[str, Any]) -> dict[str, Any] | None:
    candidates = payload.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
        return candidates[0]
    return None


def check_blocked(payload: dict[str, Any]) -> None:
    """Raise ContentPolicyError when the prompt or the answer was blocked."""
    feedback = payload.get("promptFeedback")
    if isinstance(feedback, dict) and feedback.get("blockReason"):
        raise ContentPolicyError(
            "The upstream's safety filters blocked the prompt "
            f"(blockReason {feedback['blockReason']})."
        )
    candidate = _candidate(payload) or {}
    reason = candidate.get("finishReason")
    if reason not in BLOCK_REASONS:
        return
    if reason == "NO_IMAGE":
        message = "The model did not produce an image for this prompt (finishReason NO_IMAGE)."
    else:
        message = f"The upstream's safety filters blocked the answer (finishReason {reason})."
    detail = candidate.get("finishMessage")
    if isinstance(detail, str) and detail:
        message += " " + detail[:_MESSAGE_CHARS]
    raise ContentPolicyError(message)


def _image(blob: Any) -> GeneratedImage:
    if not isinstance(blob, dict) or not isinstance(blob.get("data"), str):
        raise UpstreamBadResponse("The upstream sent an image part without data.")
    mime = blob.get("mimeType") or blob.get("mime_type") or "image/png"
    try:
        fmt = ImageFormat.parse(str(mime), "mimeType")
        data = base64.b64decode(blob["data"])
    except (InvalidParameter, binascii.Error, ValueError):
        raise UpstreamBadResponse(f"The upstream sent an unusable image ({mime}).") from None
    return GeneratedImage(data=data, fmt=fmt, width=0, height=0)


def _parts(payload: dict[str, Any]) -> tuple[list[GeneratedImage], list[str]]:
    content = (_candidate(payload) or {}).get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    images: list[GeneratedImage] = []
    texts: list[str] = []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict) or part.get("thought"):
            continue
        if isinstance(part.get("text"), str):
            texts.append(part["text"])
        blob = part.get("inlineData", part.get("inline_data"))
        if blob is not None:
            images.append(_image(blob))
    return images, texts


def _by_modality(details: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in details if isinstance(details, list) else []:
        if isinstance(item, dict) and isinstance(item.get("tokenCount"), int):
            key = str(item.get("modality", ""))
            out[key] = out.get(key, 0) + item["tokenCount"]
    return out


def usage_of(meta: Any) -> Usage | None:
    """`usageMetadata` → Usage; thinking tokens are billed as output, so they count there."""
    if not isinstance(meta, dict):
        return None

    def count(name: str) -> int:
        value = meta.get(name)
        return value if isinstance(value, int) else 0

    prompt = _by_modality(meta.get("promptTokensDetails"))
    output = _by_modality(meta.get("candidatesTokensDetails"))
    return Usage(
        input_tokens=count("promptTokenCount"),
        input_text_tokens=prompt.get("TEXT", 0),
        input_image_tokens=prompt.get("IMAGE", 0),
        output_tokens=count("candidatesTokenCount") + count("thoughtsTokenCount"),
        output_image_tokens=output.get("IMAGE", 0),
        output_text_tokens=output.get("TEXT", 0),
    )


def parse_answer(payload: dict[str, Any], partial: bool = False) -> ImageResult | None:
    """The images, text and usage of an answer (or of one stream chunk when `partial`)."""
    check_blocked(payload)
    images, texts = _parts(payload)
    usage = usage_of(payload.get("usageMetadata"))
    text = "".join(texts) or None
    if not images and text is None:
        if partial:
            return None if usage is None else ImageResult(images=(), usage=usage)
        reason = (_candidate(payload) or {}).get("finishReason", "none")
        raise UpstreamBadResponse(
            f"The upstream answered with neither an image nor text (finishReason {reason})."
        )
    return ImageResult(images=tuple(images), usage=usage, text=text)
