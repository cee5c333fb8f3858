"""Schemathesis against the gateway's own OpenAPI document over real HTTP (issue 8 item 8):
no 5xx, and every answer matches the documented status codes, content types and schemas.
The example count is bounded so the run stays part of `make test`."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pixelgate.api.docs import load_openapi
from tests.support.gateway import Gateway, start_gateway


def _fuzz_document() -> dict[str, Any]:
    """The served document, with `model` pinned to the embedded default's model so that
    generated requests also reach the success path instead of stopping at 404."""
    doc = copy.deepcopy(load_openapi())
    schemas = doc["components"]["schemas"]
    pinned = {"type": "string", "enum": ["sandbox-image"]}
    for name in (
        "GenerationRequest",
        "EditForm",
        "EditJson",
        "VariationForm",
        "ChatRequest",
        "ArkRequest",
        "DashScopeMessagesRequest",
        "DashScopeSynthesisRequest",
    ):
        schemas[name]["properties"]["model"] = pinned
    gemini = doc["paths"]["/v1beta/models/{model}:generateContent"]["post"]
    gemini["parameters"][0]["schema"] = pinned
    return doc


schema = schemathesis.openapi.from_dict(_fuzz_document())

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    gw = start_gateway(tmp / "gw", None)
    yield gw
    gw.stop()
    logs = gw.logs()
    assert "Traceback" not in logs, logs[-3000:]


def test_openapi_document_is_served(fuzz_gateway: Gateway) -> None:
    import httpx

    doc = httpx.get(fuzz_gateway.base_url + "/openapi.json").json()
    assert doc["openapi"].startswith("3.") and "/v1/images/generations" in doc["paths"]


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms(case: schemathesis.Case, fuzz_gateway: Gateway) -> None:
    case.call_and_validate(
        base_url=fuzz_gateway.base_url,
        headers={"Authorization": f"Bearer {fuzz_gateway.key}"},
        checks=CHECKS,
        timeout=60,
    )
