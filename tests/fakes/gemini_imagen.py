"""Imagen `:predict` on the Gemini API (doc §3.6) for the Gemini fake.

Legacy surface: google-genai ≥ 2.19 refuses `generate_images` in Gemini-API mode, so only raw
HTTP clients (or older SDKs) reach it. `GeminiFakeState.imagen_enabled = False` makes these
models 404 as if Google had removed them.

Request::

    POST /v1beta/models/imagen-4.0-generate-001:predict
    {"instances": [{"prompt": "A bunny"}],
     "parameters": {"sampleCount": 1, "aspectRatio": "1:1", "sampleImageSize": "1k"}}

Response::

    {"predictions": [{"bytesBase64Encoded": "iVBORw0KGgo...", "mimeType": "image/png"}]}

UNCONFIRMED choices: pixel sizes (1:1 1024x1024, 3:4 896x1280, 4:3 1280x896, 9:16 768x1408,
16:9 1408x768; 2K doubles them); sampleImageSize accepted on every Imagen 4 model,
case-insensitive, refused on imagen-3.0; Vertex-only parameters and out-of-range values → 400
with our wording; a blocked prompt → 200 `{}` (or one `raiFilteredReason` entry when
includeRaiReason); includeSafetyAttributes appends a "Positive Prompt" entry without image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from tests.fakes.gemini_models import IMAGEN_RATIOS, ImagenModel, encoded_image, imagen_dimensions
from tests.fakes.gemini_rules import GeminiError

__all__ = ["ImagenRequest", "parse_predict", "render_predict"]

PARAMETERS = frozenset(
    {"sampleCount", "aspectRatio", "personGeneration", "sampleImageSize", "guidanceScale"}
    | {"safetySetting", "includeSafetyAttributes", "includeRaiReason", "language"}
    | {"outputOptions"}
)
VERTEX_ONLY = frozenset(
    {"negativePrompt", "seed", "addWatermark", "storageUri", "labels", "enhancePrompt"}
)
PERSON_GENERATION = frozenset({"dont_allow", "allow_adult"})
SAFETY_SETTINGS = frozenset({"block_low_and_above", "block_medium_and_above", "block_only_high"})
OUTPUT_MIME = {"image/png": "PNG", "image/jpeg": "JPEG"}
RAI_REASON = (
    "Your current safety filter threshold filtered out the generated image. "
    "You will not be charged for blocked images."
)


@dataclass(frozen=True)
class ImagenRequest:
    prompt: str
    count: int
    aspect_ratio: str
    image_size: str
    mime_type: str
    include_rai_reason: bool
    include_safety_attributes: bool


def _prompt(body: dict[str, Any]) -> str:
    instances = body.get("instances")
    if not isinstance(instances, list) or not instances or not isinstance(instances[0], dict):
        raise GeminiError(400, "* PredictRequest.instances: instances must not be empty.\n")
    prompt = instances[0].get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise GeminiError(
            400, "Prompt is required: instances[0].prompt must be a non-empty string."
        )
    return prompt


def _size(params: dict[str, Any], model_id: str, model: ImagenModel) -> str:
    raw = params.get("sampleImageSize")
    if raw is None:
        return "1K"
    if not model.image_sizes:
        raise GeminiError(400, f"sampleImageSize is not supported for models/{model_id}.")
    size = str(raw).upper()
    if size not in model.image_sizes:
        raise GeminiError(400, f"Unsupported sampleImageSize: {raw!r}.")
    return size


def _output_mime(params: dict[str, Any]) -> str:
    options = params.get("outputOptions") or {}
    if not isinstance(options, dict):
        raise GeminiError(400, "outputOptions must be an object.")
    mime = options.get("mimeType", "image/png")
    if mime not in OUTPUT_MIME:
        raise GeminiError(400, f"Unsupported output mime type: {mime}")
    quality = options.get("compressionQuality", 75)
    if not isinstance(quality, int) or not 0 <= quality <= 100:
        raise GeminiError(400, "compressionQuality must be an integer between 0 and 100.")
    return str(mime)


def parse_predict(raw: bytes, model_id: str, model: ImagenModel) -> ImagenRequest:
    """Validate an Imagen predict body the way the Gemini API did before the removal."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise GeminiError(400, "Invalid JSON payload received. Unexpected token.") from exc
    if not isinstance(body, dict):
        raise GeminiError(400, "Invalid JSON payload received. Expected an object.")
    for key in body:
        if key not in ("instances", "parameters"):
            raise GeminiError(
                400, f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'
            )
    prompt = _prompt(body)
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise GeminiError(400, "Invalid value at 'parameters' (google.protobuf.Value).")
    for key in params:
        if key in VERTEX_ONLY:
            raise GeminiError(400, f"{key} parameter is not supported in Gemini API.")
    count = params.get("sampleCount", 4 if model.max_samples > 1 else 1)
    if not isinstance(count, int) or not 1 <= count <= model.max_samples:
        raise GeminiError(
            400, f"sampleCount must be between 1 and {model.max_samples} for models/{model_id}."
        )
    ratio = params.get("aspectRatio", "1:1")
    if ratio not in IMAGEN_RATIOS:
        raise GeminiError(400, f"Unsupported aspect ratio: {ratio!r}.")
    person = params.get("personGeneration", "allow_adult")
    if person not in PERSON_GENERATION:
        raise GeminiError(400, f"personGeneration {person!r} is not supported in Gemini API.")
    safety = params.get("safetySetting", "block_medium_and_above")
    if str(safety).lower() not in SAFETY_SETTINGS:
        raise GeminiError(400, f"safetySetting {safety!r} is not supported in Gemini API.")
    return ImagenRequest(
        prompt=prompt,
        count=count,
        aspect_ratio=str(ratio),
        image_size=_size(params, model_id, model),
        mime_type=_output_mime(params),
        include_rai_reason=bool(params.get("includeRaiReason")),
        include_safety_attributes=bool(params.get("includeSafetyAttributes")),
    )


async def render_predict(req: ImagenRequest, blocked: bool) -> dict[str, Any]:
    """The predict answer; a blocked prompt yields no image (doc: filtered images are missing)."""
    safety: dict[str, list[Any]] = {"categories": [], "scores": []}
    if blocked:
        if req.include_rai_reason:
            return {"predictions": [{"raiFilteredReason": RAI_REASON}]}
        return {}
    width, height = imagen_dimensions(req.aspect_ratio, req.image_size)
    data = await encoded_image(width, height, OUTPUT_MIME[req.mime_type])
    predictions: list[dict[str, Any]] = []
    for _ in range(req.count):
        prediction: dict[str, Any] = {"bytesBase64Encoded": data, "mimeType": req.mime_type}
        if req.include_safety_attributes:
            prediction["safetyAttributes"] = safety
        predictions.append(prediction)
    if req.include_safety_attributes:
        predictions.append({"contentType": "Positive Prompt", "safetyAttributes": safety})
    return {"predictions": predictions}
