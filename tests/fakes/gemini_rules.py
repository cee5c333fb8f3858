"""Request validation of the Gemini fake: what `:generateContent` rejects, and the error body.

The Gemini API parses JSON with the proto3 JSON mapping: lowerCamelCase and the proto's
snake_case names are both accepted, unknown names are rejected with "Cannot find field",
bytes fields accept standard or URL-safe base64 with or without padding. Error messages
below copy the real ones where a source shows them and are otherwise close paraphrases.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
from dataclasses import dataclass
from typing import Any

import orjson
from PIL import Image, UnidentifiedImageError

from tests.fakes.gemini_models import ImageModel

__all__ = [
    "GeminiError",
    "InputImage",
    "ParsedRequest",
    "b64decode",
    "error_body",
    "parse_generate",
    "summarise",
]

STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

TOP_FIELDS = frozenset(
    {"contents", "systemInstruction", "safetySettings", "tools", "toolConfig"}
    | {"cachedContent", "generationConfig"}
)
GENERATION_FIELDS = frozenset(
    {"temperature", "topP", "topK", "candidateCount", "maxOutputTokens", "stopSequences"}
    | {"responseLogprobs", "logprobs", "presencePenalty", "frequencyPenalty", "seed"}
    | {"responseMimeType", "responseSchema", "responseJsonSchema", "responseModalities"}
    | {"mediaResolution", "speechConfig", "thinkingConfig", "imageConfig"}
    | {"enableEnhancedCivicAnswers"}
)
IMAGE_CONFIG_FIELDS = frozenset({"aspectRatio", "imageSize"})
CONTENT_FIELDS = frozenset({"role", "parts"})
DATA_FIELDS = frozenset(
    {"text", "inlineData", "fileData", "functionCall", "functionResponse"}
    | {"executableCode", "codeExecutionResult"}
)
PART_FIELDS = DATA_FIELDS | {"thought", "thoughtSignature", "videoMetadata", "mediaResolution"}
BLOB_FIELDS = frozenset({"mimeType", "data"})
FILE_FIELDS = frozenset({"mimeType", "fileUri"})
THINKING_FIELDS = frozenset({"includeThoughts", "thinkingBudget", "thinkingLevel"})
SAFETY_FIELDS = frozenset({"category", "threshold"})
MODALITIES = frozenset({"MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO", "VIDEO"})
IMAGE_MIME_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"})
PILLOW_CHECKED = frozenset({"image/png", "image/jpeg", "image/webp"})
HARM_CATEGORIES = frozenset(
    {"HARM_CATEGORY_UNSPECIFIED", "HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH"}
    | {"HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_DANGEROUS_CONTENT"}
    | {"HARM_CATEGORY_CIVIC_INTEGRITY"}
)
THRESHOLDS = frozenset(
    {"HARM_BLOCK_THRESHOLD_UNSPECIFIED", "BLOCK_LOW_AND_ABOVE", "BLOCK_MEDIUM_AND_ABOVE"}
    | {"BLOCK_ONLY_HIGH", "BLOCK_NONE", "OFF"}
)
_B64_CHARS = re.compile(r"[A-Za-z0-9+/_-]*={0,2}")


class GeminiError(Exception):
    """A request the real API refuses; rendered with `error_body`."""

    def __init__(self, code: int, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


def error_body(
    code: int, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Google RPC error envelope (doc §3.5)."""
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "status": STATUS_NAMES.get(code, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return {"error": error}


@dataclass(frozen=True)
class InputImage:
    mime_type: str
    size: int  # decoded bytes; 0 for fileData references
    width: int  # 0 when not decoded (HEIC/HEIF, fileData)
    height: int


@dataclass(frozen=True)
class ParsedRequest:
    prompt: str  # every user-turn text part, joined
    images: tuple[InputImage, ...]  # user-turn reference images
    modalities: frozenset[str]
    aspect_ratio: str
    image_size: str  # the size actually produced ("1K" when omitted or ignored)
    include_thoughts: bool


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _invalid(where: str, kind: str, value: Any) -> GeminiError:
    shown = orjson.dumps(value).decode()[:80]
    return GeminiError(400, f"Invalid value at '{where}' ({kind}), {shown}")


def _fields(obj: Any, where: str, allowed: frozenset[str]) -> dict[str, Any]:
    """`obj` with camelCase keys; an unknown name fails as the proto3 JSON parser does."""
    if not isinstance(obj, dict):
        raise _invalid(where or "request", "TYPE_MESSAGE", obj)
    out: dict[str, Any] = {}
    for key, value in obj.items():
        camel = _camel(key)
        if camel not in allowed:
            at = f" at '{where}'" if where else ""
            raise GeminiError(
                400, f'Invalid JSON payload received. Unknown name "{key}"{at}: Cannot find field.'
            )
        out[camel] = value
    return out


def _list(obj: Any, where: str) -> list[Any]:
    if not isinstance(obj, list):
        raise GeminiError(
            400,
            f"Invalid JSON payload received. Invalid value at '{where}': "
            "Proto field is repeated, a JSON array was expected.",
        )
    return obj


def b64decode(text: str) -> bytes | None:
    """Decode proto3-JSON bytes: standard or URL-safe alphabet, padding optional."""
    if not _B64_CHARS.fullmatch(text):
        return None
    body = text.rstrip("=").replace("-", "+").replace("_", "/")
    if len(body) % 4 == 1:
        return None
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except binascii.Error:
        return None


def _blob(obj: Any, where: str) -> InputImage:
    blob = _fields(obj, where, BLOB_FIELDS)
    mime, data = blob.get("mimeType"), blob.get("data")
    if not isinstance(data, str) or not data:
        raise GeminiError(400, f"* GenerateContentRequest.{where}.data: inline data is required.\n")
    raw = b64decode(data)
    if raw is None:
        message = f"Invalid value at '{where}.data' (TYPE_BYTES), Base64 decoding failed"
        raise GeminiError(400, f'{message} for "{data[:40]}"')
    if not isinstance(mime, str) or mime.lower() not in IMAGE_MIME_TYPES:
        raise GeminiError(400, f"Unsupported MIME type: {mime}")
    if mime.lower() not in PILLOW_CHECKED:
        return InputImage(mime.lower(), len(raw), 0, 0)
    try:
        with Image.open(io.BytesIO(raw)) as img:
            width, height = img.size
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise GeminiError(400, "Provided image is not valid.") from exc
    return InputImage(mime.lower(), len(raw), width, height)


def _part(obj: Any, where: str, role: str, model: ImageModel) -> tuple[str, InputImage | None]:
    part = _fields(obj, where, PART_FIELDS)
    data_fields = [name for name in part if name in DATA_FIELDS]
    if not data_fields:
        raise GeminiError(
            400,
            f"* GenerateContentRequest.{where}.data: required oneof field 'data' must have "
            "one initialized field\n",
        )
    if len(data_fields) > 1:
        raise GeminiError(
            400,
            f"Invalid JSON payload received. Invalid value at '{where}' (oneof), oneof field "
            f"'data' is already set. Cannot set '{data_fields[1]}'",
        )
    if "text" in part:
        if not isinstance(part["text"], str):
            raise _invalid(f"{where}.text", "TYPE_STRING", part["text"])
        return ("" if part.get("thought") else part["text"]), None
    if "inlineData" in part:
        image = _blob(part["inlineData"], f"{where}.inline_data")
        if role == "model" and model.gemini3 and "thoughtSignature" not in part:
            raise _missing_signature(where)
        return "", image
    if "fileData" in part:
        ref = _fields(part["fileData"], f"{where}.file_data", FILE_FIELDS)
        if not isinstance(ref.get("fileUri"), str):
            raise GeminiError(400, f"* GenerateContentRequest.{where}.file_data.file_uri: required")
        return "", InputImage(str(ref.get("mimeType", "")).lower(), 0, 0, 0)
    return "", None


def _missing_signature(where: str) -> GeminiError:
    numbers = [int(n) + 1 for n in re.findall(r"\[(\d+)\]", where)]
    return GeminiError(
        400,
        f"Image part is missing a thought_signature in content position {numbers[0]}, "
        f"part position {numbers[1]}.",
    )


def _contents(body: dict[str, Any], model: ImageModel) -> tuple[str, list[InputImage]]:
    if "contents" not in body:
        raise GeminiError(400, "* GenerateContentRequest.contents: contents is not specified\n")
    contents = _list(body["contents"], "contents")
    if not contents:
        raise GeminiError(400, "* GenerateContentRequest.contents: contents is not specified\n")
    texts: list[str] = []
    images: list[InputImage] = []
    for ci, raw in enumerate(contents):
        content = _fields(raw, f"contents[{ci}]", CONTENT_FIELDS)
        role = content.get("role", "user")
        if role not in ("user", "model"):
            raise GeminiError(400, "Please use a valid role: user, model.")
        parts = _list(content.get("parts", []), f"contents[{ci}].parts")
        if not parts:
            raise GeminiError(
                400,
                f"* GenerateContentRequest.contents[{ci}].parts: contents.parts must not be "
                "empty.\n",
            )
        for pi, raw_part in enumerate(parts):
            text, image = _part(raw_part, f"contents[{ci}].parts[{pi}]", role, model)
            if role == "user" and text:
                texts.append(text)
            if role == "user" and image is not None:
                images.append(image)
    if len(images) > model.max_input_images:
        raise GeminiError(
            400,
            f"Too many input images: {len(images)}. This model accepts at most "
            f"{model.max_input_images} images per request.",
        )
    return " ".join(texts), images


def _modalities(config: dict[str, Any]) -> frozenset[str]:
    raw = config.get("responseModalities")
    if raw is None:
        return frozenset({"TEXT", "IMAGE"})
    values: set[str] = set()
    for i, value in enumerate(_list(raw, "generation_config.response_modalities")):
        name = value.upper() if isinstance(value, str) else value
        if name not in MODALITIES:
            raise _invalid(
                f"generation_config.response_modalities[{i}]",
                "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig.Modality",
                value,
            )
        values.add(name)
    if not values or not values <= {"TEXT", "IMAGE"} or values == {"TEXT"}:
        asked = ",".join(sorted(v.lower() for v in values))
        raise GeminiError(400, f"Model does not support the requested response modalities: {asked}")
    return frozenset(values)


def _image_config(
    config: dict[str, Any], model: ImageModel, model_id: str, strict_size: bool
) -> tuple[str | None, str]:
    where = "generation_config.image_config"
    image = _fields(config.get("imageConfig", {}), where, IMAGE_CONFIG_FIELDS)
    ratio = image.get("aspectRatio")
    if ratio is not None and ratio not in model.aspect_ratios:
        raise GeminiError(400, f"Unsupported aspect ratio: {ratio!r} for models/{model_id}.")
    size = image.get("imageSize")
    if size is None:
        return ratio, "1K"
    if not model.image_sizes:
        if strict_size:
            raise GeminiError(400, f"Image size is not supported for models/{model_id}.")
        return ratio, "1K"
    if size not in model.image_sizes:
        allowed = ", ".join(model.image_sizes)
        raise GeminiError(
            400, f"Unsupported image size: {size!r}. Supported values are: {allowed}."
        )
    return ratio, str(size)


def _closest_ratio(images: list[InputImage], model: ImageModel) -> str:
    """No aspectRatio: follow the first reference image's shape, else square (cookbook)."""
    sized = [image for image in images if image.width and image.height]
    if not sized:
        return "1:1"
    target = math.log(sized[0].width / sized[0].height)

    def distance(ratio: str) -> float:
        w, h = ratio.split(":")
        return abs(math.log(int(w) / int(h)) - target)

    return min(sorted(model.aspect_ratios), key=distance)


def _safety(body: dict[str, Any]) -> None:
    for i, raw in enumerate(_list(body.get("safetySettings", []), "safety_settings")):
        setting = _fields(raw, f"safety_settings[{i}]", SAFETY_FIELDS)
        if setting.get("category") not in HARM_CATEGORIES:
            raise _invalid(f"safety_settings[{i}].category", "TYPE_ENUM", setting.get("category"))
        if setting.get("threshold") not in THRESHOLDS:
            raise _invalid(f"safety_settings[{i}].threshold", "TYPE_ENUM", setting.get("threshold"))


def parse_generate(
    raw: bytes, model_id: str, model: ImageModel, strict_size: bool
) -> tuple[dict[str, Any], ParsedRequest]:
    """Validate a generateContent body as the real API would; return it and what it asks."""
    try:
        loaded = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise GeminiError(400, "Invalid JSON payload received. Unexpected token.") from exc
    body = _fields(loaded, "", TOP_FIELDS)
    prompt, images = _contents(body, model)
    if "systemInstruction" in body:
        system = _fields(body["systemInstruction"], "system_instruction", CONTENT_FIELDS)
        for pi, raw_part in enumerate(_list(system.get("parts", []), "system_instruction.parts")):
            _part(raw_part, f"system_instruction.parts[{pi}]", "user", model)
    _safety(body)
    config = _fields(body.get("generationConfig", {}), "generation_config", GENERATION_FIELDS)
    count = config.get("candidateCount", 1)
    if not isinstance(count, int) or count < 1:
        raise _invalid("generation_config.candidate_count", "TYPE_INT32", count)
    if count > 1:
        raise GeminiError(400, f"Multiple candidates is not enabled for models/{model_id}")
    modalities = _modalities(config)
    ratio, size = _image_config(config, model, model_id, strict_size)
    if ratio is None:
        ratio = _closest_ratio(images, model)
    thinking = _fields(
        config.get("thinkingConfig", {}), "generation_config.thinking_config", THINKING_FIELDS
    )
    include = bool(thinking.get("includeThoughts"))
    parsed = ParsedRequest(prompt, tuple(images), modalities, ratio, size, include)
    return loaded, parsed


def summarise(value: Any) -> Any:
    """A copy of a request body safe to keep: inline image data becomes mime type + length."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if _camel(key) == "inlineData" and isinstance(item, dict):
                data = item.get("data")
                mime = item.get("mimeType", item.get("mime_type"))
                decoded = b64decode(data) if isinstance(data, str) else None
                size = None if decoded is None else len(decoded)
                out[key] = {"mimeType": mime, "byteLength": size}
            else:
                out[key] = summarise(item)
        return out
    if isinstance(value, list):
        return [summarise(item) for item in value]
    if isinstance(value, str) and len(value) > 2048:
        return f"<{len(value)} chars>"
    return value
