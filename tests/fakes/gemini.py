"""Fake Google Gemini API (Developer API, "mldev") for image models, over loopback HTTP.

Upstream endpoints (docs/protocols/openai-gemini-xai.md §3):
  POST /v1beta/models/{model}:generateContent
  POST /v1beta/models/{model}:streamGenerateContent?alt=sse   SSE `data: {...}` chunks, no [DONE]
  POST /v1beta/models/{imagen-model}:predict                  legacy Imagen (gemini_imagen.py)
The same paths are served under /v1/ (google-genai 3.x's default; the doc's SDK snapshot used
v1beta). Auth: `x-goog-api-key: <key>` header or `?key=<key>`. Models: gemini-2.5-flash-image,
gemini-3-pro-image-preview (+ GA gemini-3-pro-image), gemini-3.1-flash-image-preview
(+ gemini-3.1-flash-image); contracts and pixel tables in gemini_models.py, validation in
gemini_rules.py.

Request::

    POST /v1beta/models/gemini-3-pro-image-preview:generateContent
    x-goog-api-key: fake-gemini-key
    {"contents": [{"role": "user", "parts": [{"text": "a red fox"},
                  {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo..."}}]}],
     "generationConfig": {"responseModalities": ["TEXT", "IMAGE"],
                          "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"}}}

Response (200)::

    {"candidates": [{"content": {"role": "model", "parts": [
        {"text": "Here is your image.", "thoughtSignature": "..."},
        {"inlineData": {"mimeType": "image/png", "data": "<2816x1536 PNG>"},
         "thoughtSignature": "..."}]}, "finishReason": "STOP", "index": 0}],
     "usageMetadata": {"promptTokenCount": 563, "candidatesTokenCount": 1125,
        "totalTokenCount": 1868, "thoughtsTokenCount": 180,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 3},
                                {"modality": "IMAGE", "tokenCount": 560}],
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1120},
                                    {"modality": "TEXT", "tokenCount": 5}]},
     "modelVersion": "gemini-3-pro-image-preview", "responseId": "..."}

Errors: `{"error": {"code", "message", "status"[, "details"]}}` (§3.5). No key → 403
PERMISSION_DENIED; bad key → 400 INVALID_ARGUMENT (API_KEY_INVALID); bearer token without key →
401 UNAUTHENTICATED; unknown model → 404 NOT_FOUND. (The doc gives only the bad-key body; the
403/401/404 messages are Google's usual front-end wording, UNCONFIRMED for this API.)

UNCONFIRMED behaviours chosen here (doc §6 or no source at all):
  * imageSize sent to gemini-2.5-flash-image is IGNORED (1K answer), as 3P reports say the
    backend drops it; `strict_image_size=True` turns it into 400 INVALID_ARGUMENT instead.
  * imageSize is case-sensitive: "1k" → 400. "512" only on 3.1 Flash Image.
  * Pixel sizes: the doc's 2.5 Flash 1K table for every model; Gemini 3 models use the doc's
    16:9 1408x768 (9:16 transposed); 2K = x2, 4K = x4, 512 = x0.5; 3.1 Flash's 1:4, 4:1,
    1:8, 8:1 are our ~1 MP picks. aspectRatio omitted: follow the first reference image, else 1:1.
  * snake_case keys (`inline_data`, `mime_type`, `image_config`...) are accepted; enum values
    in responseModalities are case-insensitive; unknown field names → 400 "Cannot find field",
    which includes imageConfig.personGeneration & co. (the SDK refuses them in this mode).
  * responseModalities ["TEXT"] alone, AUDIO or VIDEO → 400 "Model does not support the
    requested response modalities"; candidateCount > 1 → 400.
  * More reference images than 3 (2.5 Flash) / 14 (Gemini 3) → 400; base64 with whitespace
    → 400; mime types outside png/jpeg/webp/heic/heif → 400; HEIC/HEIF are not decoded.
  * Gemini 3 models: a model-turn image part without thoughtSignature → 400; answers carry
    `thoughtSignature` and `thoughtsTokenCount` (fixed 180); thought parts only with
    includeThoughts. Reference images cost the §3.7 per-image input tokens (1290 on 2.5).
  * Blocked prompts are HTTP 200 with promptFeedback and no candidates; finishReason blocks
    are HTTP 200 with a content-less candidate (streaming: `"content": {}`); both report
    prompt tokens only.
  * A text-only answer (`text_only_words`) with IMAGE-only modality is finishReason NO_IMAGE.
  * Streaming: one chunk per part, finishReason + usageMetadata on the last; without
    `alt=sse` the stream is one JSON array. Mid-stream errors are `data: {"error": ...}`.
  * Requests over `max_request_bytes` (20 MiB) → 400; 502 faults carry status UNAVAILABLE;
    429 faults add a google.rpc.RetryInfo detail next to the Retry-After header.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.faults import ErrorBody, FaultSwitch, drip, fault_response
from tests.fakes.gemini_imagen import parse_predict, render_predict
from tests.fakes.gemini_models import GEMINI_MODELS, IMAGEN_MODELS, encoded_image
from tests.fakes.gemini_models import gemini_dimensions as dimensions
from tests.fakes.gemini_rules import (
    GeminiError,
    ParsedRequest,
    error_body,
    parse_generate,
    summarise,
)

__all__ = ["BLOCK_OUTCOMES", "GeminiFakeState", "RecordedRequest", "create_app"]

FINISH_BLOCKS = frozenset(
    {"SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT", "NO_IMAGE"}
    | {"BLOCKLIST", "SPII", "RECITATION", "IMAGE_RECITATION", "IMAGE_OTHER", "OTHER"}
)
BLOCK_OUTCOMES = FINISH_BLOCKS | {"prompt_blocked"}
MIME_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
THOUGHT_TOKENS = 180
API_VERSIONS = ("v1beta", "v1")  # google-genai 3.x defaults to v1, earlier SDKs to v1beta
NO_CALLER = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
BAD_TOKEN = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential."
)
BAD_KEY = "API key not valid. Please pass a valid API key."


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # parsed JSON with inline image data summarised; None when not JSON


@dataclass
class GeminiFakeState:
    """Knobs and record of the fake; tests mutate it between requests."""

    api_keys: set[str] = field(default_factory=lambda: {"fake-gemini-key"})
    faults: FaultSwitch = field(default_factory=FaultSwitch)
    requests: list[RecordedRequest] = field(default_factory=list)
    block: str | None = None  # one of BLOCK_OUTCOMES, applied to every request
    block_words: dict[str, str] = field(default_factory=dict)  # prompt word -> outcome
    prompt_block_reason: str = "PROHIBITED_CONTENT"  # blockReason for "prompt_blocked"
    text_only_words: set[str] = field(default_factory=set)  # prompt words answered in text
    strict_image_size: bool = False  # imageSize on a model without it: 400 instead of ignore
    output_format: str = "PNG"  # PNG / JPEG / WEBP for generated images
    stream_error_after: int | None = None  # emit a mid-stream error after N chunks
    max_request_bytes: int = 20 * 1024 * 1024
    imagen_enabled: bool = True  # False: Imagen models 404 (removed from the Gemini API)


def _json(payload: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(payload), status_code=status, media_type="application/json; charset=UTF-8"
    )


def _fault_body(state: GeminiFakeState) -> ErrorBody:
    def body(status: int, message: str) -> dict[str, Any]:
        retry = {
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": f"{state.faults.retry_after}s",
        }
        return error_body(status, message, [retry] if status == 429 else None)

    return body


def _authenticate(state: GeminiFakeState, request: Request) -> None:
    key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
    if not key:
        if request.headers.get("authorization", "").lower().startswith("bearer "):
            raise GeminiError(401, BAD_TOKEN)
        raise GeminiError(403, NO_CALLER)
    if key not in state.api_keys:
        info = {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        }
        localized = {
            "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
            "locale": "en-US",
            "message": BAD_KEY,
        }
        raise GeminiError(400, BAD_KEY, [info, localized])


def _not_found(request: Request, model_id: str, method: str) -> GeminiError:
    version = request.url.path.split("/")[1]
    return GeminiError(
        404,
        f"models/{model_id} is not found for API version {version}, or is not supported for "
        f"{method}. Call ListModels to see the list of available models and their supported "
        "methods.",
    )


def _outcome(state: GeminiFakeState, prompt: str) -> str | None:
    lowered = prompt.lower()
    outcome = state.block or next(
        (o for word, o in state.block_words.items() if word.lower() in lowered), None
    )
    if outcome is not None and outcome not in BLOCK_OUTCOMES:
        raise ValueError(f"unknown block outcome {outcome!r}")
    if outcome is None and any(word.lower() in lowered for word in state.text_only_words):
        return "text_only"
    return outcome


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _prompt_usage(model_id: str, req: ParsedRequest) -> dict[str, Any]:
    model = GEMINI_MODELS[model_id]
    details: list[dict[str, Any]] = [{"modality": "TEXT", "tokenCount": _tokens(req.prompt)}]
    if req.images:
        details.append(
            {"modality": "IMAGE", "tokenCount": len(req.images) * model.input_image_tokens}
        )
    count = sum(d["tokenCount"] for d in details)
    return {"promptTokenCount": count, "totalTokenCount": count, "promptTokensDetails": details}


def _signed(part: dict[str, Any], gemini3: bool) -> dict[str, Any]:
    if gemini3:
        part["thoughtSignature"] = secrets.token_urlsafe(48)
    return part


async def _answer(
    state: GeminiFakeState, model_id: str, req: ParsedRequest, outcome: str | None
) -> dict[str, Any]:
    """The full GenerateContentResponse for a validated request."""
    model = GEMINI_MODELS[model_id]
    usage = _prompt_usage(model_id, req)
    answer: dict[str, Any] = {"modelVersion": model_id, "responseId": secrets.token_urlsafe(17)}
    if outcome == "prompt_blocked":
        return {
            "promptFeedback": {"blockReason": state.prompt_block_reason},
            "usageMetadata": usage,
            **answer,
        }
    if outcome == "text_only" and "TEXT" not in req.modalities:
        outcome = "NO_IMAGE"
    if outcome in FINISH_BLOCKS:
        return {
            "candidates": [{"finishReason": outcome, "index": 0}],
            "usageMetadata": usage,
            **answer,
        }
    parts: list[dict[str, Any]] = []
    if req.include_thoughts and model.gemini3:
        parts.append({"text": "**Composing the scene**\n\nPlanning the layout.", "thought": True})
    text = ""
    if outcome == "text_only":
        text = f"I can only describe it in words: {req.prompt[:200]}"
    elif "TEXT" in req.modalities:
        text = "Here is your image."
    if text:
        parts.append(_signed({"text": text}, model.gemini3))
    out_details: list[dict[str, Any]] = []
    if outcome is None:
        width, height = dimensions(model, req.aspect_ratio, req.image_size)
        data = await encoded_image(width, height, state.output_format)
        mime = MIME_TYPES[state.output_format]
        parts.append(_signed({"inlineData": {"mimeType": mime, "data": data}}, model.gemini3))
        out_details.append(
            {"modality": "IMAGE", "tokenCount": model.output_image_tokens[req.image_size]}
        )
    if text:
        out_details.append({"modality": "TEXT", "tokenCount": _tokens(text)})
    candidates_tokens = sum(d["tokenCount"] for d in out_details)
    thoughts = THOUGHT_TOKENS if model.gemini3 else 0
    usage["candidatesTokenCount"] = candidates_tokens
    usage["totalTokenCount"] += candidates_tokens + thoughts
    usage["candidatesTokensDetails"] = out_details
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    candidate = {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
    return {"candidates": [candidate], "usageMetadata": usage, **answer}


def _chunks(full: dict[str, Any]) -> list[dict[str, Any]]:
    """Split a full answer into stream chunks: one per part, finish and usage on the last."""
    meta = {"modelVersion": full["modelVersion"], "responseId": full["responseId"]}
    candidates = full.get("candidates")
    if not candidates or "content" not in candidates[0]:
        if candidates:
            candidates[0]["content"] = {}
        return [full]
    parts = candidates[0]["content"]["parts"]
    chunks: list[dict[str, Any]] = []
    for i, part in enumerate(parts):
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [part]}, "index": 0}
        chunk: dict[str, Any] = {"candidates": [candidate], **meta}
        if i == len(parts) - 1:
            candidate["finishReason"] = candidates[0]["finishReason"]
            chunk["usageMetadata"] = full["usageMetadata"]
        chunks.append(chunk)
    return chunks


def _stream(
    state: GeminiFakeState, chunks: list[dict[str, Any]], sse: bool, buffered: bool
) -> Response:
    if not sse:
        return _json(chunks)
    events = [b"data: " + orjson.dumps(chunk) + b"\r\n\r\n" for chunk in chunks]
    if state.stream_error_after is not None:
        error = error_body(500, "An internal error has occurred. Please retry.")
        error_event = b"data: " + orjson.dumps(error) + b"\r\n\r\n"
        events = [*events[: state.stream_error_after], error_event]
    if buffered:
        return Response(b"".join(events), media_type="text/event-stream")

    async def emit() -> AsyncIterator[bytes]:
        for event in events:
            yield event
            await asyncio.sleep(0)

    return StreamingResponse(emit(), media_type="text/event-stream")


async def _generate(
    state: GeminiFakeState, request: Request, raw: bytes, target: tuple[str, str], buffered: bool
) -> Response:
    model_id, method = target
    model = GEMINI_MODELS.get(model_id)
    if model is None:
        raise _not_found(request, model_id, method)
    body_req = await asyncio.to_thread(
        parse_generate, raw, model_id, model, state.strict_image_size
    )
    req = body_req[1]
    full = await _answer(state, model_id, req, _outcome(state, req.prompt))
    if method == "generateContent":
        return _json(full)
    return _stream(state, _chunks(full), request.query_params.get("alt") == "sse", buffered)


async def _predict(state: GeminiFakeState, request: Request, raw: bytes, model_id: str) -> Response:
    model = IMAGEN_MODELS.get(model_id) if state.imagen_enabled else None
    if model is None:
        raise _not_found(request, model_id, "predict")
    req = parse_predict(raw, model_id, model)
    outcome = _outcome(state, req.prompt)
    return _json(await render_predict(req, blocked=outcome not in (None, "text_only")))


async def _dispatch(
    state: GeminiFakeState, request: Request, raw: bytes, buffered: bool
) -> Response:
    model_id, _, method = request.path_params["target"].rpartition(":")
    _authenticate(state, request)
    if len(raw) > state.max_request_bytes:
        raise GeminiError(
            400, f"Request payload size exceeds the limit: {state.max_request_bytes} bytes."
        )
    if model_id and method in ("generateContent", "streamGenerateContent"):
        return await _generate(state, request, raw, (model_id, method), buffered)
    if model_id and method == "predict":
        return await _predict(state, request, raw, model_id)
    raise GeminiError(404, "Method not found.")


def _record(state: GeminiFakeState, request: Request, raw: bytes) -> None:
    try:
        body = summarise(orjson.loads(raw)) if raw else None
    except orjson.JSONDecodeError:
        body = None
    state.requests.append(
        RecordedRequest(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            headers=dict(request.headers),
            body=body,
        )
    )


def create_app(state: GeminiFakeState) -> Starlette:
    """Starlette app serving the Gemini image endpoints from `state`."""

    async def handle(request: Request) -> Response:
        raw = await request.body()
        _record(state, request, raw)
        fault = state.faults.take()
        early = await fault_response(fault, state.faults, _fault_body(state))
        if early is not None:
            return early
        try:
            response = await _dispatch(state, request, raw, buffered=fault == "slow_drip")
        except GeminiError as exc:
            response = _json(error_body(exc.code, exc.message, exc.details), exc.code)
        return drip(response, state.faults) if fault == "slow_drip" else response

    routes = [Route(f"/{v}/models/{{target}}", handle, methods=["POST"]) for v in API_VERSIONS]
    return Starlette(routes=routes)
