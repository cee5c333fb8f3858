"""SSRF-safe fetching of client-supplied URLs.

Only http and https; the host name is resolved once and every address it resolves to must
be public — loopback, private, link-local (which holds the cloud metadata address
169.254.169.254), multicast, reserved and unspecified addresses are refused unless an
operator allow-lists their network. The connection then goes to the checked address itself
(the Host header and TLS SNI keep the name), so a second DNS answer cannot swap in an
internal address. Redirects are followed by hand and each hop is checked again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from pixelgate.errors import InvalidParameter, PayloadTooLarge

__all__ = ["FetchPolicy", "IPAddress", "check_address", "check_url", "fetch_public", "post_public"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
_REDIRECTS = {301, 302, 303, 307, 308}


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    allow_networks: tuple[IPNetwork, ...] = ()
    max_bytes: int = 50 * 1024 * 1024
    timeout_seconds: float = 30.0
    max_redirects: int = 5

    @classmethod
    def from_strings(cls, networks: Sequence[str], max_bytes: int) -> FetchPolicy:
        parsed = tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks if n.strip())
        return cls(allow_networks=parsed, max_bytes=max_bytes)


def check_address(ip: IPAddress, policy: FetchPolicy) -> bool:
    """True when the gateway may connect to `ip` on a client's behalf."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in policy.allow_networks):
        return True
    return not (
        ip in _METADATA
        or ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _refuse(param: str, why: str) -> InvalidParameter:
    return InvalidParameter(f"Could not fetch {param}: {why}.", param=param)


async def check_url(url: str, param: str, policy: FetchPolicy) -> IPAddress:
    """The checked address to connect to for `url`; refuses non-http(s) URLs, names that
    do not resolve and any internal address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refuse(param, "only http and https URLs are fetched")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = await _resolve(parts.hostname, port)
    if not addresses:
        raise _refuse(param, f"the host {parts.hostname!r} does not resolve")
    if not all(check_address(ip, policy) for ip in addresses):
        raise _refuse(param, "the address is not public (internal addresses are refused)")
    return addresses[0]


async def _pinned_request(
    client: httpx.AsyncClient,
    url: str,
    param: str,
    policy: FetchPolicy,
    post: tuple[bytes, dict[str, str]] | None = None,
) -> httpx.Response:
    ip = await check_url(url, param, policy)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    assert parts.hostname is not None
    literal = f"[{ip}]" if isinstance(ip, ipaddress.IPv6Address) else str(ip)
    netloc = f"{literal}:{port}"
    pinned = parts._replace(netloc=netloc).geturl()
    host_header = parts.netloc.rsplit("@", 1)[-1]
    content, headers = post if post is not None else (None, {})
    request = client.build_request(
        "POST" if post is not None else "GET",
        pinned,
        headers={**headers, "Host": host_header},
        content=content,
        extensions={"sni_hostname": parts.hostname},
        timeout=httpx.Timeout(policy.timeout_seconds, connect=10.0),
    )
    return await client.send(request, stream=True)


async def post_public(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    policy: FetchPolicy,
) -> int:
    """POST `body` to a client-supplied URL (webhooks) on the same rules as fetching:
    public addresses only, pinned connection. Redirects are not followed (a webhook that
    answers 3xx has not accepted the delivery). Returns the status code."""
    try:
        resp = await _pinned_request(client, url, "callback_url", policy, (body, headers))
    except httpx.HTTPError:
        raise _refuse("callback_url", "the server could not be reached") from None
    try:
        await resp.aread()
    except httpx.HTTPError:
        pass
    finally:
        await resp.aclose()
    return resp.status_code


async def fetch_public(
    client: httpx.AsyncClient, url: str, param: str, policy: FetchPolicy
) -> tuple[bytes, str | None]:
    """GET `url` for a client, refusing internal addresses on every hop; bounded size."""
    for _ in range(policy.max_redirects + 1):
        try:
            resp = await _pinned_request(client, url, param, policy)
        except httpx.HTTPError:
            raise _refuse(param, "the server could not be reached") from None
        try:
            if resp.status_code in _REDIRECTS and "location" in resp.headers:
                url = urljoin(url, resp.headers["location"])
                continue
            if resp.status_code != 200:
                raise _refuse(param, f"the server answered {resp.status_code}")
            return await _read_bounded(resp, param, policy.max_bytes), resp.headers.get(
                "content-type"
            )
        except httpx.HTTPError:
            raise _refuse(param, "the download failed") from None
        finally:
            await resp.aclose()
    raise _refuse(param, "too many redirects")


async def _read_bounded(resp: httpx.Response, param: str, max_bytes: int) -> bytes:
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"{param} is larger than {max_bytes} bytes.", param=param)
    chunks = bytearray()
    async for chunk in resp.aiter_bytes():
        chunks += chunk
        if len(chunks) > max_bytes:
            raise PayloadTooLarge(f"{param} is larger than {max_bytes} bytes.", param=param)
    return bytes(chunks)
