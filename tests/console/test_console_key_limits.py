"""The Keys page's limits and credit forms over real HTTP, on a gateway with billing set up:
what the form saves is what the admin API reports and what the gateway enforces; refused
values answer 400 with the message; only the admin, with the session's CSRF token."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.console.helpers import create_key, csrf_of, sign_in
from tests.support.admin import ADMIN, error_code, generate, key_state, start_billed
from tests.support.gateway import Gateway


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_billed(tmp_path_factory.mktemp("console-limits"), None)
    yield gw
    gw.stop()


@pytest.fixture
def admin(gw: Gateway) -> Iterator[httpx.Client]:
    client = sign_in(gw, ADMIN)
    yield client
    client.close()


def limits_form(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    """A limits form as the page sends it: every field, an unticked box left out."""
    form: dict[str, Any] = {
        "csrf": csrf_of(client.get("/console/keys").text),
        "enabled": "on",
        "expires_at": "",
        "daily_limit": "",
        "monthly_limit": "",
        "rpm_limit": "",
        "concurrency_limit": "",
        "models": "all",
        "allowed_ips": "",
        "group": "default",
    }
    form.update(fields)
    return {k: v for k, v in form.items() if v is not None}


def credit_form(client: httpx.Client, key_id: str, **fields: str) -> dict[str, str]:
    page = client.get("/console/keys").text
    editor = page.split(f'id="edit-{key_id}"', 1)[1]
    token = re.search(r'name="token" value="([^"]+)"', editor)
    assert token
    return {"csrf": csrf_of(page), "token": token.group(1), **fields}


def row_of(page: str, key_id: str) -> str:
    return page.split(f'data-key-id="{key_id}"', 1)[1].split("</tr>", 1)[0]


def balance_cell(page: str, key_id: str) -> str:
    cell = re.search(r'class="num balance"[^>]*>(.*?)</td>', row_of(page, key_id), re.S)
    assert cell
    return re.sub(r"<[^>]+>", " ", cell.group(1)).strip()


def test_saved_limits_are_what_the_api_reports_and_enforces(
    gw: Gateway, admin: httpx.Client
) -> None:
    key_id, secret = create_key(admin, "limited")
    headers = {"Authorization": f"Bearer {secret}"}
    form = limits_form(
        admin,
        unlimited="on",
        rpm_limit="50",
        daily_limit="0.5",
        expires_at="2031-01-31T00:00",
        models="only",
        allowed_models=["flux-like"],
        allowed_ips="127.0.0.1, 10.0.0.0/8",
        group="partners",
    )
    saved = admin.post(f"/console/keys/{key_id}/limits", data=form)
    assert saved.status_code == 303
    assert saved.headers["location"].startswith("/console/keys?done=limits")
    state = key_state(gw, key_id)
    assert {k: state[k] for k in ("rpm_limit", "allowed_models", "allowed_ips", "group")} == {
        "rpm_limit": 50,
        "allowed_models": ["flux-like"],
        "allowed_ips": ["127.0.0.1", "10.0.0.0/8"],
        "group": "partners",
    }
    assert state["daily_limit_micros"] == 500_000 and state["unlimited"] is True
    assert state["expires_at"] == "2031-01-31T00:00:00+00:00"
    page = admin.get(saved.headers["location"]).text
    assert "Limits saved." in page
    chips = row_of(page, key_id)
    for text in ("50 requests/min", "$0.5000 a day", "models: flux-like", "group partners"):
        assert text in chips, chips
    assert 'name="rpm_limit" min="1" value="50"' in page  # the form shows what is stored
    # The gateway enforces it: another model is refused, the allowed one is served.
    refused = generate(gw, headers, model="sandbox-image")
    assert refused.status_code == 403 and error_code(refused) == "model_not_allowed"
    assert generate(gw, headers, model="flux-like").status_code == 200
    # Back to every model and no rate limit: nulls clear, as in the admin API.
    cleared = admin.post(f"/console/keys/{key_id}/limits", data=limits_form(admin, unlimited="on"))
    assert cleared.status_code == 303
    state = key_state(gw, key_id)
    assert state["allowed_models"] is None and state["rpm_limit"] is None
    assert state["group"] == "default" and state["expires_at"] is None
    assert generate(gw, headers, model="sandbox-image").status_code == 200


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rpm_limit": "0"}, "rpm_limit must be an integer from 1 to"),
        ({"concurrency_limit": "two"}, "concurrency_limit must be an integer"),
        ({"expires_at": "next tuesday"}, "expires_at must be an ISO 8601 time"),
        ({"daily_limit": "abc"}, "Daily spend limit: 'abc' is not a number"),
        ({"monthly_limit": "0.0000001"}, "Monthly spend limit: '0.0000001' is not a whole"),
        ({"allowed_ips": "10.0.0.300"}, "allowed_ips: '10.0.0.300' is not an IP address"),
        ({"group": "nope"}, "Unknown group 'nope' (configured groups: default, partners)"),
    ],
)
def test_a_refused_value_answers_400_with_the_message_and_changes_nothing(
    gw: Gateway, admin: httpx.Client, fields: dict[str, str], message: str
) -> None:
    key_id, _ = create_key(admin, "refused")
    before = key_state(gw, key_id)
    resp = admin.post(f"/console/keys/{key_id}/limits", data=limits_form(admin, **fields))
    assert resp.status_code == 400
    text = html.unescape(resp.text)
    assert message in text, text[:3000]
    editor = resp.text.split(f'id="edit-{key_id}"', 1)[1].split("</details>", 1)[0]
    assert "<details open>" in editor and 'role="alert"' in editor  # shown at the form
    typed = next(iter(fields.values()))
    assert f'value="{html.escape(typed)}"' in editor or typed == "nope"  # what was typed
    assert key_state(gw, key_id) == before


def test_credit_add_subtract_once_and_never_below_zero(gw: Gateway, admin: httpx.Client) -> None:
    key_id, secret = create_key(admin, "metered")
    headers = {"Authorization": f"Bearer {secret}"}
    metered = admin.post(f"/console/keys/{key_id}/limits", data=limits_form(admin))
    assert metered.status_code == 303
    broke = generate(gw, headers)
    assert broke.status_code == 402 and error_code(broke) == "insufficient_quota"
    assert balance_cell(admin.get("/console/keys").text, key_id) == "$0.0000"

    form = credit_form(admin, key_id, amount="0.01", note="first top-up", direction="add")
    added = admin.post(f"/console/keys/{key_id}/credit", data=form)
    assert added.status_code == 303 and "done=credit" in added.headers["location"]
    assert key_state(gw, key_id)["balance"]["available_micros"] == 10_000
    page = admin.get(added.headers["location"]).text
    assert balance_cell(page, key_id) == "$0.0100" and "Balance updated." in page
    # The same form sent again (a double click, a re-post) changes nothing.
    again = admin.post(f"/console/keys/{key_id}/credit", data=form)
    assert again.status_code == 303 and "done=again" in again.headers["location"]
    assert key_state(gw, key_id)["balance"]["available_micros"] == 10_000

    assert generate(gw, headers).status_code == 200  # one 64x64 sandbox image: $0.001
    take = credit_form(admin, key_id, amount="0.005", note="correction", direction="subtract")
    assert admin.post(f"/console/keys/{key_id}/credit", data=take).status_code == 303
    balance = key_state(gw, key_id)["balance"]
    assert balance["available_micros"] == 4_000 and balance["debited_micros"] == 5_000
    assert balance_cell(admin.get("/console/keys").text, key_id) == "$0.0040"

    too_much = credit_form(admin, key_id, amount="1", direction="subtract")
    refused = admin.post(f"/console/keys/{key_id}/credit", data=too_much)
    assert refused.status_code == 400
    assert "available balance (0.004000) is less than the 1.000000" in refused.text
    for amount, message in (
        ("0", "Amount: must be more than 0."),
        ("-1", "Amount: must not be negative."),
        ("lots", "Amount: 'lots' is not a number."),
    ):
        bad = admin.post(
            f"/console/keys/{key_id}/credit",
            data=credit_form(admin, key_id, amount=amount, direction="add"),
        )
        assert bad.status_code == 400 and message in html.unescape(bad.text)
    assert key_state(gw, key_id)["balance"]["available_micros"] == 4_000

    # The key's own console shows its balance and limits, with nothing to edit.
    me = sign_in(gw, secret)
    own = me.get("/console/keys").text
    assert balance_cell(own, key_id) == "$0.0040"
    assert "/limits" not in own and "/credit" not in own and "Add credit" not in own
    assert 'id="own-balance">$0.0040<' in me.get("/console/usage").text


def test_only_the_admin_with_its_csrf_token_may_edit(gw: Gateway, admin: httpx.Client) -> None:
    key_id, secret = create_key(admin, "guarded")
    me = sign_in(gw, secret)
    mine = limits_form(me, rpm_limit="1")
    assert me.post(f"/console/keys/{key_id}/limits", data=mine).status_code == 403
    gift = {"csrf": mine["csrf"], "amount": "100", "direction": "add"}
    assert me.post(f"/console/keys/{key_id}/credit", data=gift).status_code == 403
    forged = limits_form(admin, rpm_limit="1") | {"csrf": "forged"}
    assert admin.post(f"/console/keys/{key_id}/limits", data=forged).status_code == 403
    no_token = credit_form(admin, key_id, amount="1", direction="add")
    del no_token["csrf"]
    assert admin.post(f"/console/keys/{key_id}/credit", data=no_token).status_code == 403
    anonymous = httpx.post(f"{gw.base_url}/console/keys/{key_id}/limits", data=mine)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/console/login"
    state = key_state(gw, key_id)
    assert state["rpm_limit"] is None and state["balance"]["credited_micros"] == 0
    # A revoked key has no editor, and its forms are refused.
    listing = admin.get("/console/keys").text
    admin.post(f"/console/keys/{key_id}/revoke", data={"csrf": csrf_of(listing)})
    assert f'id="edit-{key_id}"' not in admin.get("/console/keys").text
    gone = admin.post(f"/console/keys/{key_id}/limits", data=limits_form(admin))
    assert gone.status_code == 404
