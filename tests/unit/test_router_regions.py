"""Region tags on deployments and how the router narrows routes by the region header."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixelgate.core.router import Router
from pixelgate.errors import InvalidParameter
from pixelgate.settings import ConfigError, load_config

CONFIG = """
providers:
  a: {type: sandbox}
  b: {type: sandbox}
deployments:
  - {model: regional, provider: a, regions: [Global], region_required: true}
  - {model: regional, provider: b, regions: [cn]}
  - {model: mixed, provider: a, regions: [eu]}
  - {model: mixed, provider: b}
  - {model: plain, provider: a, aliases: [vendor/plain-v1]}
"""


def router(tmp_path: Path, text: str = CONFIG) -> Router:
    path = tmp_path / "gw.yaml"
    path.write_text(text)
    return Router(load_config(path, frozenset({"sandbox"})))


def providers(routes: list[object]) -> list[str]:
    return [r.provider_name for r in routes]  # type: ignore[attr-defined]


def test_region_selects_tagged_deployments(tmp_path: Path) -> None:
    r = router(tmp_path)
    assert providers(r.plan("regional", "global")) == ["a"]
    assert providers(r.plan("regional", "CN")) == ["b"]
    assert providers(r.plan("mixed", "eu")) == ["a", "b"]
    assert providers(r.plan("mixed", "us")) == ["b"]  # untagged serves every region
    assert sorted(providers(r.plan("mixed"))) == ["a", "b"]  # one tier: weighted order
    assert providers(r.plan("vendor/plain-v1", "anywhere")) == ["a"]  # no tags: ignored


def test_region_only_model_names_the_header(tmp_path: Path) -> None:
    r = router(tmp_path)
    with pytest.raises(InvalidParameter) as missing:
        r.plan("regional")
    assert missing.value.param == "X-Pixelgate-Region"
    assert "X-Pixelgate-Region" in missing.value.message and "global" in missing.value.message
    with pytest.raises(InvalidParameter) as unknown:
        r.plan("regional", "mars")
    assert unknown.value.param == "X-Pixelgate-Region" and "mars" in unknown.value.message


def test_a_name_may_not_stand_for_two_models(tmp_path: Path) -> None:
    text = """
providers: {a: {type: sandbox}}
deployments:
  - {model: one, provider: a}
  - {model: two, provider: a, aliases: [one]}
"""
    with pytest.raises(ConfigError, match="'one' already names model 'one'"):
        router(tmp_path, text)
