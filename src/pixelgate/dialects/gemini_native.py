"""Gemini-native dialect: `POST /v1beta/models/{model}:generateContent` and
`:streamGenerateContent` (also under /v1/, the google-genai SDK 3.x default) — seed 004.

    POST /v1beta/models/gemini-2.5-flash-image:generateContent     x-goog-api-key: pg-…
    {"contents": [{"role": "user", "parts": [
        {"text": "Let the people hold the flowers"},
        {"inline_data": {"mime_type": "image/png", "data": "iVBORw0KGgo…"}}]}],
     "generationConfig": {"responseModalities": ["image"], "imageConfig": {"aspectRatio": "1:1"}}}
    → {"candidates": [{"content": {"role": "model", "parts": [{"inlineData":
        {"mimeType": "image/png", "data": "…"}}]}, "finishReason": "STOP", "index": 0}],
       "usageMetadata": {"promptTokenCount": …, "candidatesTokenCount": …, "totalTokenCount": …},
       "modelVersion": "gemini-2.5-flash-image", "responseId": "…"}

The key comes as `x-goog-api-key`, `?key=` or Bearer; field names in camelCase or snake_case.
To a Gemini deployment the body passes through unchanged (only the model and the key are the
deployment's) and the upstream's JSON comes back unchanged, blocks included as Gemini
reports them. To any other deployment it goes through the canonical form: the prompt is the
system instruction and the last user turn, its images are that turn's images (or, when it
has none, the latest model turn's), aspect ratio and size come from `imageConfig`.
Errors: `{"error": {"code", "message", "status", "details"}}`; streams are SSE `data:` events
with no [DONE] (a failure mid-stream is a `data: {"error": …}` event), or one JSON array
without `alt=sse`.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import orjson

from pixelgate.core.b64 import json_default
from pixelgate.core.context import RequestContext
from pixelgate.core.models import ImageInput, ImageRequest, Operation, Usage
from pixelgate.core.pipeline import ImageOutcome, OutputImage, StreamPart
from pixelgate.errors import GatewayError, InvalidParameter

__all__ = [
    "NAME",
    "chunks",
    "dropped",
    "operation_of",
    "parse",
    "prompt_of",
    "render",
    "render_error",
    "sse",
]

NAME = "gemini"
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    402: "RESOURCE_EXHAUSTED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "NOT_FOUND",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    415: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_TOP_USED = frozenset({"contents", "systemInstruction", "generationConfig"})
_CONFIG_USED = frozenset({"responseModalities", "imageConfig", "seed", "candidateCount"})
_CAMEL = re.compile(r"_([a-z])")


def render_error(err: GatewayError) -> dict[str, Any]:
    info: dict[str, Any] = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": err.error_code.upper(),
        "domain": "pixelgate",
    }
    if err.param:
        info["metadata"] = {"param": err.param}
    return {
        "error": {
            "code": err.status,
            "message": err.message,
            "status": _STATUS.get(err.status, "UNKNOWN"),
            "details": [info],
        }
    }


def _camel(name: str) -> str:
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


def _get(obj: Any, camel: str) -> Any:
    """A field by its camelCase name, also accepting the proto (snake_case) name."""
    if not isinstance(obj, dict):
        return None
    if camel in obj:
        return obj[camel]
    return next((v for k, v in obj.items() if _camel(k) == camel), None)


def _contents(body: dict[str, Any]) -> list[Any]:
    contents = _get(body, "contents")
    if not isinstance(contents, list) or not contents:
        raise InvalidParameter("contents must be a non-empty array.", param="contents")
    return contents


def _b64(text: Any, where: str) -> bytes:
    """Proto3-JSON bytes: standard or URL-safe alphabet, padding optional."""
    if not isinstance(text, str) or not text:
        raise InvalidParameter(f"{where} must be a base64 string.", param=where)
    body = text.strip().rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameter(f"{where} is not valid base64.", param=where) from None


def _turn(content: Any, where: str, decode: bool) -> tuple[str, list[str], list[ImageInput]]:
    """(role, texts, images) of one content; images decoded only when `decode`."""
    if not isinstance(content, dict):
        raise InvalidParameter(f"{where} must be an object.", param=where)
    parts = _get(content, "parts")
    if not isinstance(parts, list):
        raise InvalidParameter(f"{where}.parts must be an array.", param=f"{where}.parts")
    texts: list[str] = []
    images: list[ImageInput] = []
    for j, part in enumerate(parts):
        at = f"{where}.parts[{j}]"
        if not isinstance(part, dict) or part.get("thought"):
            continue
        if isinstance(part.get("text"), str):
            texts.append(part["text"])
        blob, ref = _get(part, "inlineData"), _get(part, "fileData")
        if isinstance(blob, dict):
            mime = _get(blob, "mimeType")
            data = _b64(_get(blob, "data"), f"{at}.inlineData.data") if decode else b""
            images.append(
                ImageInput(data=data, content_type=mime if isinstance(mime, str) else None)
            )
        elif isinstance(ref, dict) and isinstance(_get(ref, "fileUri"), str):
            images.append(ImageInput(url=_get(ref, "fileUri")))
    return str(content.get("role") or "user"), texts, images


def _conversation(body: dict[str, Any], decode: bool) -> tuple[list[str], list[ImageInput]]:
    """Texts and images of the last user turn; the latest model turn's images before it
    when it has none (multi-turn editing)."""
    last: tuple[list[str], list[ImageInput]] | None = None
    latest_model: list[ImageInput] = []
    earlier: list[ImageInput] = []
    for i, content in enumerate(_contents(body)):
        role, texts, images = _turn(content, f"contents[{i}]", decode)
        if role == "model" and images:
            latest_model = images
        elif role != "model":
            last, earlier = (texts, images), latest_model
    if last is None:
        raise InvalidParameter("contents must contain a user turn.", param="contents")
    return last[0], last[1] or earlier


def _system(body: dict[str, Any]) -> list[str]:
    system = _get(body, "systemInstruction")
    if not isinstance(system, dict):
        return []
    return _turn(system, "systemInstruction", decode=False)[1]


def prompt_of(body: dict[str, Any]) -> str:
    """The prompt text, without decoding any image (for the usage log)."""
    try:
        texts, _ = _conversation(body, decode=False)
    except InvalidParameter:
        return ""
    return "\n\n".join(t for t in (*_system(body), *texts) if t.strip())


def operation_of(body: dict[str, Any]) -> str:
    try:
        _, images = _conversation(body, decode=False)
    except InvalidParameter:
        return Operation.GENERATE.value
    return (Operation.EDIT if images else Operation.GENERATE).value


def parse(body: dict[str, Any], model: str) -> ImageRequest:
    """The canonical request, for deployments that do not speak Gemini."""
    texts, images = _conversation(body, decode=True)
    prompt = "\n\n".join(t for t in (*_system(body), *texts) if t.strip())
    config = _get(body, "generationConfig") or {}
    if not isinstance(config, dict):
        raise InvalidParameter("generationConfig must be an object.", param="generationConfig")
    count = _get(config, "candidateCount")
    if count not in (None, 1):
        raise InvalidParameter(
            "Only one candidate can be generated.", param="generationConfig.candidateCount"
        )
    modalities = _get(config, "responseModalities")
    accept_text = not isinstance(modalities, list) or any(
        isinstance(m, str) and m.upper() == "TEXT" for m in modalities
    )
    image_config = _get(config, "imageConfig")
    ratio, size = _get(image_config, "aspectRatio"), _get(image_config, "imageSize")
    seed = _get(config, "seed")
    return ImageRequest(
        model=model,
        prompt=prompt,
        operation=Operation.EDIT if images else Operation.GENERATE,
        aspect_ratio=ratio if isinstance(ratio, str) else None,
        resolution=size if isinstance(size, str) else None,
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        accept_text=accept_text,
        images=tuple(images),
        protocol="gemini",
        native=body,
    )


def dropped(body: dict[str, Any]) -> list[str]:
    """Fields the canonical path cannot carry (reported in X-Pixelgate-Dropped-Params)."""
    out = [k for k in body if _camel(k) not in _TOP_USED]
    config = _get(body, "generationConfig")
    if isinstance(config, dict):
        out += [f"generationConfig.{k}" for k in config if _camel(k) not in _CONFIG_USED]
    return out


def _usage(u: Usage | None) -> dict[str, Any]:
    u = u or Usage()
    candidates = u.output_text_tokens + u.output_image_tokens or u.output_tokens
    meta: dict[str, Any] = {
        "promptTokenCount": u.input_tokens,
        "candidatesTokenCount": candidates,
        "totalTokenCount": u.total_tokens,
    }
    prompt = [("TEXT", u.input_text_tokens), ("IMAGE", u.input_image_tokens)]
    output = [("IMAGE", u.output_image_tokens), ("TEXT", u.output_text_tokens)]
    if any(n for _, n in prompt):
        meta["promptTokensDetails"] = [{"modality": m, "tokenCount": n} for m, n in prompt if n]
    if any(n for _, n in output):
        meta["candidatesTokensDetails"] = [{"modality": m, "tokenCount": n} for m, n in output if n]
    if u.output_tokens > candidates:
        meta["thoughtsTokenCount"] = u.output_tokens - candidates
    return meta


def _answer(
    text: str | None,
    outputs: tuple[OutputImage, ...],
    model: str,
    response_id: str,
    final: Usage | bool | None,
) -> dict[str, Any]:
    """A GenerateContentResponse (or stream chunk); `final` is the usage of the last one."""
    parts: list[dict[str, Any]] = [{"text": text}] if text else []
    for out in outputs:
        mime = out.fmt.mime if out.fmt else "image/png"
        parts.append({"inlineData": {"mimeType": mime, "data": out.b64_json}})
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    answer: dict[str, Any] = {"candidates": [candidate]}
    if final is not False:
        candidate["finishReason"] = "STOP"
        answer["usageMetadata"] = _usage(final if isinstance(final, Usage) else None)
    answer.update(modelVersion=model, responseId=response_id)
    return answer


def render(outcome: ImageOutcome) -> dict[str, Any]:
    result = outcome.result
    rid = secrets.token_urlsafe(16)
    return _answer(result.text, outcome.outputs, outcome.request.model, rid, result.usage)


async def chunks(model: str, parts: AsyncIterator[StreamPart]) -> AsyncIterator[dict[str, Any]]:
    """Stream chunks of a canonical answer; finishReason and usage ride on the last one."""
    rid = secrets.token_urlsafe(16)
    pending: StreamPart | None = None
    usage: Usage | None = None
    async for part in parts:
        usage = part.usage or usage
        if not part.text and not part.outputs:
            continue
        if pending is not None:
            yield _answer(pending.text, pending.outputs, model, rid, False)
        pending = part
    if pending is not None:
        yield _answer(pending.text, pending.outputs, model, rid, usage)


async def sse(
    ctx: RequestContext, items: AsyncIterator[dict[str, Any]] | AsyncIterator[str]
) -> AsyncIterator[bytes]:
    """`data:` events (dicts are serialised, strings are upstream JSON sent as they are)."""
    try:
        async for item in items:
            if isinstance(item, str) and item.lstrip().startswith('{"error"'):
                ctx.stream_error = "upstream_error"  # the upstream's own mid-stream error
            data = (
                item.encode() if isinstance(item, str) else orjson.dumps(item, default=json_default)
            )
            yield b"data: " + data + b"\r\n\r\n"
    except GatewayError as err:
        ctx.stream_error = err.error_code
        yield b"data: " + orjson.dumps(render_error(err)) + b"\r\n\r\n"
