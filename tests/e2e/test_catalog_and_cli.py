"""The model catalog with prices (real HTTP and the openai SDK), and the CLI's key and
credit commands."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest

from pixelgate.cli import main
from tests.support.admin import create_key
from tests.support.gateway import Gateway


def test_models_catalog_with_prices(billed: Gateway) -> None:
    listed = httpx.get(billed.base_url + "/v1/models", headers=billed.headers).json()
    ids = [m["id"] for m in listed["data"]]
    assert "sandbox-image" in ids and "flux-like" in ids
    sandbox = next(m for m in listed["data"] if m["id"] == "sandbox-image")
    assert sandbox["operations"] == ["generate", "edit", "image-to-image"]
    assert sandbox["max_n"] == 10 and sandbox["modes"] == ["sync"] and sandbox["streaming"]
    assert sandbox["sizes"]["default"] == "1024x1024"
    assert sandbox["sizes"]["flexible"]["max_edge"] == 4096
    assert sandbox["pricing"]["mode"] == "per_image_tier"
    assert sandbox["pricing"]["tiers"] == {"1K": 1000, "2K": 2000, "4K": 4000}
    assert sandbox["pricing"]["currency"] == "USD" and sandbox["pricing"]["multiplier"] == "1"

    recommended = httpx.get(
        billed.base_url + "/v1/models",
        params={"recommended_for": "image"},
        headers=billed.headers,
    ).json()["data"]
    assert [m["id"] for m in recommended] == ["sandbox-image"]
    none = httpx.get(
        billed.base_url + "/v1/models", params={"recommended_for": "video"}, headers=billed.headers
    ).json()
    assert none["data"] == []

    client = openai.OpenAI(base_url=billed.base_url + "/v1", api_key=billed.key, max_retries=0)
    flux = client.models.retrieve("flux-like")
    assert flux.id == "flux-like"
    assert (flux.model_extra or {})["pricing"]["rate"] == 30_000
    missing = httpx.get(billed.base_url + "/v1/models/nope", headers=billed.headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    _, partner = create_key(billed, group="partners")
    seen = httpx.get(billed.base_url + "/v1/models/sandbox-image", headers=partner).json()
    assert seen["pricing"]["multiplier"] == "1/2" and seen["pricing"]["group"] == "partners"


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `pixelgate …` in this process (the same `main` the console script calls)."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse refusals
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_keys_with_limits_and_credit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PIXELGATE_DATA_DIR", str(tmp_path / "data"))
    code, out, _ = cli(capsys, "keys", "create", "--name", "m", "--balance", "0.0015", "--rpm", "5")
    lines = out.strip().splitlines()
    key_id = lines[0].split()[2]
    assert code == 0 and lines[-1].startswith("pg-")
    assert "metered" in lines[0] and "rpm_limit=5" in lines[0]
    code, first, _ = cli(capsys, "keys", "credit", key_id, "0.002", "--idempotency-key", "inv-7")
    assert code == 0 and first.startswith("Credited 0.002000")
    code, again, _ = cli(capsys, "keys", "credit", key_id, "0.002", "--idempotency-key", "inv-7")
    assert again.startswith("Already credited") and "available 0.003500" in again
    code, plain, _ = cli(capsys, "keys", "create", "--name", "plain")
    assert "unlimited" in plain.splitlines()[0]
    _, listing, _ = cli(capsys, "keys", "list")
    rows = {line.split()[0]: line.split()[-1] for line in listing.splitlines()[1:]}
    assert rows[key_id] == "0.003500" and set(rows.values()) == {"0.003500", "unlimited"}
    code, _, err = cli(capsys, "keys", "create", "--name", "x", "--balance", "1.0000001")
    assert code == 2 and "6 decimals" in err
    code, _, err = cli(capsys, "keys", "create", "--name", "x", "--group", "nobody")
    assert code == 2 and "unknown group" in err
    code, _, _ = cli(capsys, "keys", "credit", "key_nope", "1")
    assert code == 1
