"""OpenAI chat-completions dialect for image models: `POST /v1/chat/completions` (seed 000).

Request::

    {"model": "gemini-3.1-flash-image-preview",
     "messages": [{"role": "user", "content": [
         {"type": "text", "text": "make it a watercolor"},
         {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR..."}}]}],
     "modalities": ["image", "text"], "image_config": {"aspect_ratio": "16:9", "image_size": "2K"},
     "stream": false}

Answer: a `chat.completion` whose `choices[0].message.content` carries each image as a
Markdown data URL `![image](data:image/png;base64,…)` (seed 000) after any text, and whose
`message.images[]` carries the same images as `{"type": "image_url", "image_url": {"url"}}`
(OpenRouter / LiteLLM); a text-only answer is plain text. `usage` has
`completion_tokens_details.image_tokens`. Streaming lives in openai_chat_stream.py.

The canonical request is one turn: the prompt is the system/developer texts and the last
user message; its images are that message's images or, when it has none, the images of the
latest assistant answer before it (so "now make it blue" edits the previous picture).
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from pixelgate.core.models import ImageInput, ImageRequest, Operation, Usage
from pixelgate.core.pipeline import ImageOutcome, OutputImage
from pixelgate.dialects.fields import opt_bool, opt_int, opt_str, parse_data_url, req_str
from pixelgate.errors import InvalidParameter

__all__ = [
    "NAME",
    "ChatOptions",
    "completion_id",
    "content_of",
    "image_items",
    "parse",
    "render",
    "usage_body",
]

NAME = "openai_chat"
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\((data:image/[\w.+-]+;base64,[A-Za-z0-9+/=]+)\)")
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_USED = frozenset(
    {"model", "messages", "modalities", "image_config", "aspect_ratio", "resolution"}
    | {"stream", "stream_options", "n", "seed", "user"}
)


@dataclass(frozen=True, slots=True)
class ChatOptions:
    stream: bool = False
    include_usage: bool = False
    dropped: tuple[str, ...] = ()


def _parts(value: Any, where: str) -> tuple[list[str], list[ImageInput]]:
    """Texts and images of one user/system message's content."""
    if value is None:
        return [], []
    if isinstance(value, str):
        return [value], []
    if not isinstance(value, list):
        raise InvalidParameter(f"{where} must be a string or an array of parts.", param=where)
    texts: list[str] = []
    images: list[ImageInput] = []
    for j, part in enumerate(value):
        at = f"{where}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image_url":
            ref = part.get("image_url")
            url = ref.get("url") if isinstance(ref, dict) else ref
            if not isinstance(url, str):
                raise InvalidParameter(f"{at}.image_url.url must be a string.", param=at)
            images.append(parse_data_url(url, f"{at}.image_url"))
        else:
            raise InvalidParameter(
                f"{at} must be a text part or an image_url part (http(s) or data URL).",
                param=at,
            )
    return texts, images


def _answer_images(message: dict[str, Any], where: str) -> list[ImageInput]:
    """Images of an earlier assistant answer: `images[]`, else Markdown data URLs."""
    found: list[ImageInput] = []
    for k, item in enumerate(message.get("images") or []):
        ref = item.get("image_url") if isinstance(item, dict) else None
        url = ref.get("url") if isinstance(ref, dict) else None
        if isinstance(url, str):
            found.append(parse_data_url(url, f"{where}.images[{k}]"))
    content = message.get("content")
    if not found and isinstance(content, str):
        found = [parse_data_url(m, f"{where}.content") for m in _MARKDOWN_IMAGE.findall(content)]
    return found


def _has_images(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return bool(message.get("images")) or (isinstance(content, str) and "(data:image/" in content)


def _messages(body: dict[str, Any]) -> tuple[str, list[ImageInput]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidParameter("messages must be a non-empty array.", param="messages")
    system: list[str] = []
    last_user: tuple[list[str], list[ImageInput]] | None = None
    # The latest assistant answer with images, and the one before the last user turn
    # (decoded only if it is used).
    latest_answer: tuple[dict[str, Any], str] | None = None
    earlier: tuple[dict[str, Any], str] | None = None
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        role = message.get("role") if isinstance(message, dict) else None
        role = role if isinstance(role, str) else None  # a dict or list is not a role
        if role not in _ROLES:
            raise InvalidParameter(f"{where}.role must be user, assistant or system.", param=where)
        assert isinstance(message, dict)
        if role in ("system", "developer"):
            system += _parts(message.get("content"), f"{where}.content")[0]
        elif role == "user":
            last_user = _parts(message.get("content"), f"{where}.content")
            earlier = latest_answer
        elif role == "assistant" and _has_images(message):
            latest_answer = (message, where)
    if last_user is None:
        raise InvalidParameter("messages must contain a user message.", param="messages")
    texts, images = last_user
    prompt = "\n\n".join(t for t in (*system, *texts) if t.strip())
    if not prompt and not images and earlier is None:
        raise InvalidParameter("The last user message has no text and no image.", param="messages")
    if not images and earlier is not None:
        images = _answer_images(*earlier)
    return prompt, images


def _geometry(body: dict[str, Any]) -> tuple[str | None, str | None]:
    config = body.get("image_config")
    if config is not None and not isinstance(config, dict):
        raise InvalidParameter("image_config must be an object.", param="image_config")
    config = config or {}
    ratio = opt_str(config, "aspect_ratio") or opt_str(body, "aspect_ratio")
    resolution = opt_str(config, "image_size") or opt_str(body, "resolution")
    return ratio, resolution


def _accept_text(body: dict[str, Any]) -> bool:
    modalities = body.get("modalities")
    if modalities is None:
        return True
    if not isinstance(modalities, list) or not all(isinstance(m, str) for m in modalities):
        raise InvalidParameter("modalities must be an array of strings.", param="modalities")
    return "text" in (m.lower() for m in modalities)


def parse(body: dict[str, Any]) -> tuple[ImageRequest, ChatOptions]:
    model = req_str(body, "model")
    prompt, images = _messages(body)
    n = opt_int(body, "n")
    if n not in (None, 1):
        raise InvalidParameter("n must be 1: a chat completion has one choice.", param="n")
    stream_options = body.get("stream_options")
    include_usage = isinstance(stream_options, dict) and bool(
        opt_bool(stream_options, "include_usage")
    )
    ratio, resolution = _geometry(body)
    req = ImageRequest(
        model=model,
        prompt=prompt,
        operation=Operation.EDIT if images else Operation.GENERATE,
        aspect_ratio=ratio,
        resolution=resolution,
        seed=opt_int(body, "seed"),
        user=opt_str(body, "user"),
        accept_text=_accept_text(body),
        images=tuple(images),
        protocol="openai_chat",
        native=body,
    )
    dropped = tuple(sorted(k for k in body if k not in _USED))
    return req, ChatOptions(bool(opt_bool(body, "stream")), include_usage, dropped)


def completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex


def _url(out: OutputImage) -> str:
    if out.url:
        return out.url
    mime = out.fmt.mime if out.fmt else "image/png"
    return f"data:{mime};base64,{out.b64_json}"


def content_of(text: str | None, outputs: tuple[OutputImage, ...]) -> str:
    """Text, then each image as Markdown (seed 000), separated by blank lines."""
    pieces = [text] if text else []
    pieces += [f"![image]({_url(out)})" for out in outputs]
    return "\n\n".join(pieces)


def image_items(outputs: tuple[OutputImage, ...], start: int = 0) -> list[dict[str, Any]]:
    return [
        {"type": "image_url", "image_url": {"url": _url(out)}, "index": start + i}
        for i, out in enumerate(outputs)
    ]


def usage_body(usage: Usage | None) -> dict[str, Any]:
    u = usage or Usage()
    reasoning = max(0, u.output_tokens - u.output_text_tokens - u.output_image_tokens)
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.total_tokens,
        "prompt_tokens_details": {
            "text_tokens": u.input_text_tokens,
            "image_tokens": u.input_image_tokens,
        },
        "completion_tokens_details": {
            "text_tokens": u.output_text_tokens,
            "image_tokens": u.output_image_tokens,
            "reasoning_tokens": reasoning,
        },
    }


def render(outcome: ImageOutcome) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": content_of(outcome.result.text, outcome.outputs),
    }
    if outcome.outputs:
        message["images"] = image_items(outcome.outputs)
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": outcome.request.model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": usage_body(outcome.result.usage),
    }
