"""Usage reports checked against the usage-log rows they sum, bills recomputed line by line,
and the CSV export."""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import httpx

from tests.support.admin import ADMIN_HEADERS, create_key, generate
from tests.support.db import usage_rows
from tests.support.gateway import Gateway


def recompute(detail: dict[str, Any]) -> int:
    """A bill by hand: sum of quantity * rate / per, times the multiplier, rounded up."""
    total = sum(Fraction(ln["quantity"] * ln["rate_micros"], ln["per"]) for ln in detail["lines"])
    return math.ceil(total * Fraction(detail["multiplier"]))


def test_usage_totals_match_the_rows(billed: Gateway) -> None:
    key_id, headers = create_key(billed, balance_micros=1_000_000, group="partners")
    assert generate(billed, headers, n=2).status_code == 200
    assert generate(billed, headers, size="2048x1024").status_code == 200
    assert generate(billed, headers, model="flux-like", size="1000x1000").status_code == 200
    assert generate(billed, headers, model="broken-image").status_code == 503
    assert generate(billed, headers, prompt="").status_code == 400

    rows = [r for r in usage_rows(billed) if r.key_id == key_id and r.model is not None]
    assert len(rows) == 5
    for r in rows:
        if r.price_detail is not None:
            assert recompute(r.price_detail) == r.cost
    expected = {
        "requests": len(rows),
        "succeeded": sum(r.status < 400 for r in rows),
        "images": sum(r.images for r in rows),
        "cost_micros": sum(r.cost for r in rows),
    }
    # 2 * 1K (1,000) + 2K (2,000) + 1 MP * 30,000, all at the partners' 1/2.
    assert expected == {"requests": 5, "succeeded": 3, "images": 4, "cost_micros": 17_000}

    mine = httpx.get(billed.base_url + "/v1/usage?detail=true", headers=headers).json()
    assert mine["totals"] == expected and mine["currency"] == "USD"
    by_model: dict[str, int] = {}
    for day in mine["data"]:
        assert day["date"] == datetime.now(UTC).date().isoformat()
        by_model[day["model"]] = day["cost_micros"]
    assert by_model == {"broken-image": 0, "flux-like": 15_000, "sandbox-image": 2_000}
    for field in ("requests", "succeeded", "images", "cost_micros"):
        assert sum(d[field] for d in mine["data"]) == expected[field]
    assert mine["balance"]["spent_micros"] == 17_000
    assert mine["balance"]["available_micros"] == 1_000_000 - 17_000
    assert [r["request_id"] for r in mine["requests"]] == [r.request_id for r in rows]
    tiers = [r["price_tier"] for r in mine["requests"] if r["status"] == 200]
    assert tiers == ["1K", "2K", None]

    admin = httpx.get(
        billed.base_url + "/admin/usage",
        params={"key_id": key_id, "model": "sandbox-image"},
        headers=ADMIN_HEADERS,
    ).json()
    # The refused empty prompt counts as a request for sandbox-image, costing nothing.
    assert admin["totals"] == {"requests": 3, "succeeded": 2, "images": 3, "cost_micros": 2_000}
    assert len(admin["data"]) == 3 and not admin["has_more"]

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    empty = httpx.get(
        billed.base_url + "/v1/usage", params={"start": tomorrow, "end": tomorrow}, headers=headers
    ).json()
    assert empty["totals"]["requests"] == 0 and empty["data"] == []
    bad = httpx.get(billed.base_url + "/v1/usage", params={"start": "soon"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "start"

    exported = httpx.get(
        billed.base_url + "/admin/usage",
        params={"key_id": key_id, "format": "csv"},
        headers=ADMIN_HEADERS,
    )
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert [t["request_id"] for t in table] == [r.request_id for r in rows]
    assert sum(int(t["cost"]) for t in table) == expected["cost_micros"]
    flux = next(t for t in table if t["model"] == "flux-like")
    assert flux["lines"] == "1000000 output pixels @ 30000/1000000" and flux["multiplier"] == "1/2"
