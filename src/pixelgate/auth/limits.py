"""What a key may do: balance or unlimited, spend limits, expiry, model and IP allow-lists,
request-rate and concurrency caps, enabled flag and price group.

Held on the `api_keys` row (migration 0002), read at authentication, enforced by
`auth.access` (who may call at all) and `billing.meter` (which model, how much money).
Money fields are integer micro-units of the account currency.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pixelgate.errors import InvalidParameter

__all__ = [
    "INT32_MAX",
    "INT64_MAX",
    "LIMIT_INPUTS",
    "KeyLimits",
    "aware",
    "ip_allowed",
    "model_allowed",
    "parse_limits",
]


def aware(value: datetime | None) -> datetime | None:
    """Every stored time is UTC: naive times (SQLite hands them back) are taken as UTC and
    zoned ones converted, since SQLite would otherwise store an offset time's wall clock."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """A key's policy. The defaults describe an unrestricted key (as keys were before
    billing); `None` means "no limit" for every optional cap."""

    unlimited: bool = True
    enabled: bool = True
    expires_at: datetime | None = None
    daily_limit: int | None = None
    monthly_limit: int | None = None
    allowed_models: tuple[str, ...] | None = None
    allowed_ips: tuple[str, ...] | None = None
    rpm_limit: int | None = None
    concurrency_limit: int | None = None
    group: str = "default"

    def to_row(self) -> dict[str, Any]:
        row = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        row["group_name"] = row.pop("group")
        for name in ("allowed_models", "allowed_ips"):
            row[name] = list(row[name]) if row[name] is not None else None
        return row

    @classmethod
    def from_row(cls, row: Any) -> KeyLimits:
        models, ips = row.allowed_models, row.allowed_ips
        return cls(
            unlimited=bool(row.unlimited),
            enabled=bool(row.enabled),
            expires_at=aware(row.expires_at),
            daily_limit=row.daily_limit,
            monthly_limit=row.monthly_limit,
            allowed_models=tuple(models) if models is not None else None,
            allowed_ips=tuple(ips) if ips is not None else None,
            rpm_limit=row.rpm_limit,
            concurrency_limit=row.concurrency_limit,
            group=row.group_name,
        )

    def as_json(self) -> dict[str, Any]:
        """The admin API's view: money fields are named `*_micros`, as in requests."""
        out = self.to_row()
        out["group"] = out.pop("group_name")
        out["expires_at"] = self.expires_at.isoformat() if self.expires_at else None
        out["daily_limit_micros"] = out.pop("daily_limit")
        out["monthly_limit_micros"] = out.pop("monthly_limit")
        return out

    def spend_capped(self) -> bool:
        return not self.unlimited or self.daily_limit is not None or self.monthly_limit is not None


LIMIT_INPUTS = frozenset(
    {
        "unlimited",
        "enabled",
        "expires_at",
        "daily_limit_micros",
        "monthly_limit_micros",
        "allowed_models",
        "allowed_ips",
        "rpm_limit",
        "concurrency_limit",
        "group",
    }
)
"""The request-body fields `parse_limits` understands."""


def model_allowed(limits: KeyLimits, *names: str) -> bool:
    return limits.allowed_models is None or any(n in limits.allowed_models for n in names)


def ip_allowed(limits: KeyLimits, address: str | None) -> bool:
    if limits.allowed_ips is None:
        return True
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in limits.allowed_ips)


# --- parsing admin input ------------------------------------------------------------------


INT32_MAX = 2**31 - 1  # rpm_limit, concurrency_limit: INTEGER columns
INT64_MAX = 2**63 - 1  # money: BIGINT columns


def _opt_int(body: Mapping[str, Any], name: str, minimum: int, maximum: int) -> int | None:
    value = body[name]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise InvalidParameter(
            f"{name} must be an integer from {minimum} to {maximum}, or null.", param=name
        )
    return value


def _opt_bool(body: Mapping[str, Any], name: str) -> bool:
    value = body[name]
    if not isinstance(value, bool):
        raise InvalidParameter(f"{name} must be true or false.", param=name)
    return value


def _opt_list(body: Mapping[str, Any], name: str) -> tuple[str, ...] | None:
    value = body[name]
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidParameter(f"{name} must be a list of strings, or null.", param=name)
    return tuple(value)


def _opt_time(body: Mapping[str, Any], name: str) -> datetime | None:
    value = body[name]
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidParameter(
            f"{name} must be an ISO 8601 time such as 2031-01-31T00:00:00Z, or null.", param=name
        )
    return aware(parsed)


def parse_limits(
    body: Mapping[str, Any], base: KeyLimits, groups: Collection[str] | None = None
) -> KeyLimits:
    """Apply the limit fields present in an admin request body to `base` (null clears).

    With `groups` (the configured price groups), a key left in any other group is refused:
    its requests would all fail with `group_not_configured`."""
    changes: dict[str, Any] = {}
    for name in ("unlimited", "enabled"):
        if name in body:
            changes[name] = _opt_bool(body, name)
    for name in ("daily_limit", "monthly_limit"):
        if name + "_micros" in body:
            changes[name] = _opt_int(body, name + "_micros", 0, INT64_MAX)
    for name in ("rpm_limit", "concurrency_limit"):
        if name in body:
            changes[name] = _opt_int(body, name, 1, INT32_MAX)
    if "expires_at" in body:
        changes["expires_at"] = _opt_time(body, "expires_at")
    if "allowed_models" in body:
        changes["allowed_models"] = _opt_list(body, "allowed_models")
    if "allowed_ips" in body:
        ips = _opt_list(body, "allowed_ips")
        for net in ips or ():
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise InvalidParameter(
                    f"allowed_ips: {net!r} is not an IP address or CIDR range.",
                    param="allowed_ips",
                ) from None
        changes["allowed_ips"] = ips
    if "group" in body:
        group = body["group"]
        if not isinstance(group, str) or not group.strip() or len(group) > 64:
            raise InvalidParameter("group must be a non-empty string.", param="group")
        changes["group"] = group.strip()
    limits = dataclasses.replace(base, **changes)
    if groups is not None and limits.group not in groups:
        known = ", ".join(sorted(groups))
        raise InvalidParameter(
            f"Unknown group {limits.group!r} (configured groups: {known}).", param="group"
        )
    return limits
