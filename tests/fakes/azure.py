"""Fake Azure OpenAI Images upstream (ASGI): the OpenAI fake's rules on Azure's paths and auth.

Endpoints (confirmed from Microsoft's image-generation how-to and the openai SDK's Azure
client, which routes both operations to the deployment path):
  POST /openai/deployments/{deployment}/images/generations?api-version=...   JSON
  POST /openai/deployments/{deployment}/images/edits?api-version=...         multipart / JSON
  GET  /fake-files/{id}.png   the image behind a dall-e-3 `url` (stands in for the blob host)
Auth: `api-key: <key>` header (keys in `api_keys`), or `Authorization: Bearer <token>` for
Microsoft Entra ID tokens (tokens in `entra_tokens`). The deployment picks the model
(`deployments` maps deployment name -> OpenAI model id); the body's `model` is ignored.

Example::

    POST /openai/deployments/gpt-image-1/images/generations?api-version=2025-04-01-preview
    api-key: azure-key
    {"prompt": "A lighthouse at dusk", "size": "1024x1024", "quality": "low", "n": 1}
    200 {"created": 1760000000, "data": [{"b64_json": "iVBOR...", "content_filter_results":
         {...}, "prompt_filter_results": {...}}], "background": "opaque",
         "output_format": "png", "quality": "low", "size": "1024x1024", "usage": {...}}

Errors (bodies seen in public issue logs): wrong or missing key -> 401
`{"error": {"code": "401", "message": "Access denied due to invalid subscription key or wrong
API endpoint. ..."}}`; no api-version -> 404 `{"error": {"code": "404", "message": "Resource
not found"}}` (also for any unknown path, e.g. variations, which Azure does not offer);
unlisted api-version -> 400 `{"error": {"code": "BadRequest", "message": "API version not
supported"}}`; unknown deployment -> 404 `DeploymentNotFound`. Parameter validation is the
OpenAI fake's (tests/fakes/openai_rules.py) with the OpenAI error envelope.

State knobs (AzureFakeState extends OpenAIFakeState, so every OpenAI knob applies):
`api_keys` (api-key values), `entra_tokens`, `deployments`, `api_versions`,
`gpt_image_min_api_version`, `filter_annotations`.

UNCONFIRMED choices:
  * Check order: api-version, then auth, then deployment, then parameters.
  * A GPT-image deployment with an api-version older than `gpt_image_min_api_version`
    -> 400 BadRequest "Model ... is enabled only for api versions ... and later".
  * A bad Entra token -> 401 with code "401" and the "Access token is missing, invalid ..."
    message; neither header -> the api-key 401 body.
  * Validation errors reuse OpenAI's `{"error": {message, type, param, code}}` body.
  * Safety blocks on every model -> 400 `content_policy_violation` with
    `inner_error: {code: ResponsibleAIPolicyViolation, content_filter_results}` (the shape
    of Azure's dall-e error schema; for GPT image models it may differ).
  * `content_filter_results` / `prompt_filter_results` are added to every `data[]` item
    (documented for dall-e-3; assumed for GPT image), switch off with `filter_annotations`.
  * Fault bodies: `{"error": {"code": "<status>", "message": ...}}`.
  * `api_versions` is a hand-picked list, not Azure's full one; the newer
    `/openai/v1/images/...` routes (model in the body, no api-version) are not modelled.
  * Unknown paths answer 404 before recording and faults (they never reach a handler).
  * Everything the OpenAI fake marks UNCONFIRMED applies here too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .openai import Dialect, OpenAIFakeState, images_endpoint
from .openai_output import file_route, json_response
from .openai_rules import ApiError, Op

__all__ = ["DEFAULT_API_VERSIONS", "AzureFakeState", "azure_error", "create_app"]

DEFAULT_API_VERSIONS = frozenset(
    {
        "2023-12-01-preview",
        "2024-02-01",
        "2024-02-15-preview",
        "2024-06-01",
        "2024-10-21",
        "2025-01-01-preview",
        "2025-03-01-preview",
        "2025-04-01-preview",
    }
)
_KEY_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
    "a valid key for an active subscription and use a correct regional API endpoint for your "
    "resource."
)
_TOKEN_DENIED = (
    "Unauthorized. Access token is missing, invalid, audience is incorrect "
    "(https://cognitiveservices.azure.com), or have expired."
)
_NO_DEPLOYMENT = (
    "The API deployment for this resource does not exist. If you created the deployment "
    "within the last 5 minutes, please wait a moment and try again."
)
_SAFE = {"filtered": False, "severity": "safe"}
_CATEGORIES = ("hate", "self_harm", "sexual", "violence")


@dataclass
class AzureFakeState(OpenAIFakeState):
    """OpenAIFakeState plus Azure's knobs; `api_keys` are the accepted `api-key` values."""

    api_keys: set[str] = field(default_factory=lambda: {"azure-key"})
    entra_tokens: set[str] = field(default_factory=set)
    deployments: dict[str, str] = field(
        default_factory=lambda: {
            "gpt-image-1": "gpt-image-1",
            "gpt-image-1.5": "gpt-image-1.5",
            "gpt-image-2": "gpt-image-2",
            "dall-e-3": "dall-e-3",
        }
    )
    api_versions: set[str] = field(default_factory=lambda: set(DEFAULT_API_VERSIONS))
    gpt_image_min_api_version: str = "2025-04-01-preview"
    filter_annotations: bool = True


def azure_error(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status)


def _fault_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"code": str(status), "message": message}}


def _render_error(err: ApiError) -> Response:
    if not err.is_policy:
        return json_response(err.body(), err.status)
    filters = {c: dict(_SAFE) for c in _CATEGORIES}
    filters["violence"] = {"filtered": True, "severity": "high"}
    body = {
        "error": {
            "code": "content_policy_violation",
            "message": "Your request was rejected as a result of our safety system. Your prompt "
            "may contain text that is not allowed by our safety system.",
            "param": None,
            "type": None,
            "inner_error": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_results": filters,
            },
        }
    }
    return json_response(body, 400)


def _precheck(state: AzureFakeState) -> Callable[[Request], Response | None]:
    def precheck(request: Request) -> Response | None:
        version = request.query_params.get("api-version")
        if not version:
            return azure_error(404, "404", "Resource not found")
        if version not in state.api_versions:
            return azure_error(400, "BadRequest", "API version not supported")
        key = request.headers.get("api-key")
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if key is None and token is not None:
            if token not in state.entra_tokens:
                return azure_error(401, "401", _TOKEN_DENIED)
        elif key is None or key not in state.api_keys:
            return azure_error(401, "401", _KEY_DENIED)
        model = state.deployments.get(request.path_params["deployment"])
        if model is None:
            return azure_error(404, "DeploymentNotFound", _NO_DEPLOYMENT)
        family = state.models.get(model)
        minimum = state.gpt_image_min_api_version
        if family is not None and family.gpt and version[:10] < minimum[:10]:
            msg = f"Model {model} is enabled only for api versions {minimum} and later"
            return azure_error(400, "BadRequest", msg)
        return None

    return precheck


def _annotate(state: AzureFakeState) -> Callable[[dict[str, Any]], None]:
    def decorate(payload: dict[str, Any]) -> None:
        if not state.filter_annotations:
            return
        for item in payload.get("data", []):
            item["content_filter_results"] = {c: dict(_SAFE) for c in _CATEGORIES}
            item["prompt_filter_results"] = {
                **{c: dict(_SAFE) for c in _CATEGORIES},
                "jailbreak": {"filtered": False, "detected": False},
                "profanity": {"filtered": False, "detected": False},
            }

    return decorate


def create_app(state: AzureFakeState) -> Starlette:
    dialect = Dialect(
        precheck=_precheck(state),
        model_for=lambda request: state.deployments.get(request.path_params["deployment"]),
        render_error=_render_error,
        fault_body=_fault_body,
        decorate=_annotate(state),
    )

    def endpoint(op: Op) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            return await images_endpoint(request, op, state, dialect)

        return handle

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return azure_error(status, str(status), "Resource not found")

    prefix = "/openai/deployments/{deployment}/images"
    routes = [
        Route(f"{prefix}/generations", endpoint("generate"), methods=["POST"]),
        Route(f"{prefix}/edits", endpoint("edit"), methods=["POST"]),
        file_route(lambda: state.files),
    ]
    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
