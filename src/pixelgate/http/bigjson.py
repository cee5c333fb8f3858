"""Parse a JSON answer that carries megabytes of base64 without running them through the
JSON parser.

An upstream image answer is ~1.5 MB of base64 in one string and a few hundred bytes of
everything else. orjson must validate and copy that string (0.8 ms for 1.5 MB, the largest
single cost of a passthrough request in bench/); an ASCII decode of the same bytes is ten
times cheaper. `loads_lifting` cuts each long value of the named key out of the text, parses
the small rest, and puts the values back as `str` — the same result as `orjson.loads`.

Only a value that is plainly a JSON string literal (no backslash escape, ASCII only) is
lifted; anything else is left to orjson, so the result never differs from a full parse.

With `raw=True` a value that is plain base64 is not even made a string: it comes back as a
`RawB64`, a view of those bytes of `body`, which an unchanged image is answered from
(http.jsonio) — the base64 is then never copied by the gateway at all.
"""

from __future__ import annotations

import secrets
from typing import Any

import orjson

from pixelgate.core.b64 import RawB64, is_plain_b64

__all__ = ["MIN_LIFT_BYTES", "loads_lifting"]

# Shorter values are not worth the bookkeeping.
MIN_LIFT_BYTES = 4096
_WS = b" \t\r\n"


def _skip_ws(body: bytes, pos: int) -> int:
    while pos < len(body) and body[pos] in _WS:
        pos += 1
    return pos


def _value_span(body: bytes, after_key: int) -> tuple[int, int] | None:
    """(start, end) of the string literal's content after `"key"`, if there is one."""
    pos = _skip_ws(body, after_key)
    if pos >= len(body) or body[pos] != ord(":"):
        return None
    pos = _skip_ws(body, pos + 1)
    if pos >= len(body) or body[pos] != ord('"'):
        return None
    end = body.find(b'"', pos + 1)
    return (pos + 1, end) if end >= 0 else None


def _restore(node: Any, values: dict[str, str | RawB64]) -> Any:
    if isinstance(node, str):
        return values.get(node, node)
    if isinstance(node, dict):
        return {k: _restore(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_restore(v, values) for v in node]
    return node


def loads_lifting(body: bytes, key: str, raw: bool = False) -> Any:
    """`orjson.loads(body)`, with long string values of `key` taken out before parsing (as
    `RawB64` views of `body` when `raw` and they are plain base64).

    Raises orjson.JSONDecodeError exactly when orjson.loads would."""
    marker = b'"' + key.encode() + b'"'
    found = body.find(marker)
    if found < 0:
        return orjson.loads(body)
    nonce = secrets.token_hex(6)
    view = memoryview(body)
    pieces: list[bytes] = []
    values: dict[str, str | RawB64] = {}
    pos = 0
    while found >= 0:
        span = _value_span(body, found + len(marker))
        if span is None:
            found = body.find(marker, found + len(marker))
            continue
        start, end = span
        if end - start >= MIN_LIFT_BYTES and body.find(b"\\", start, end) < 0:
            value: str | RawB64
            if raw and is_plain_b64(view[start:end]):
                value = RawB64(view[start:end])
            else:
                try:
                    # From a view: slicing the bytes first would copy them once more.
                    value = str(view[start:end], "ascii")
                except UnicodeDecodeError:
                    return orjson.loads(body)
            placeholder = f"\x00lifted-{nonce}-{len(values)}"
            values[placeholder] = value
            pieces += (body[pos:start], orjson.dumps(placeholder)[1:-1])
            pos = end
        found = body.find(marker, end + 1)
    if not values:
        return orjson.loads(body)
    pieces.append(body[pos:])
    return _restore(orjson.loads(b"".join(pieces)), values)
