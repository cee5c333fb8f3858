"""`loads_lifting` returns exactly what `orjson.loads` returns, and raises when it raises."""

from __future__ import annotations

import orjson
import pytest

from pixelgate.core.b64 import RawB64
from pixelgate.http.bigjson import MIN_LIFT_BYTES, loads_lifting

BIG = "QUJD" * (MIN_LIFT_BYTES // 2)

CASES = [
    b'{"data":[{"b64_json":"%s"},{"b64_json" : "%s","x":1}],"size":"1024x1024"}'
    % (BIG.encode(), BIG.encode()),
    b'{"data":[{"b64_json":"ab\\/cd%s"}]}' % BIG.encode(),  # escaped slash: not lifted
    b'{"data":[{"b64_json":"short"}]}',
    b'{"b64_json": 5, "k": "b64_json"}',
    b'{"data":[{"b64_json":"%s\xc3\xa9"}]}' % BIG.encode(),  # not ASCII: not lifted
    b'{"x":"\\"b64_json\\": \\"zz\\"","b64_json":"%s"}' % BIG.encode(),
    b'{"data":[{"b64_json":"\\u0000lifted-x-0"}, {"b64_json":"%s"}]}' % BIG.encode(),
    b'{"data":[{"b64_json":"%s"' % BIG.encode(),  # truncated
    b'{"data":[{"b64_json":"%s"}]' % BIG.encode(),  # unbalanced
    b"not json",
]


@pytest.mark.parametrize("body", CASES)
def test_same_as_orjson(body: bytes) -> None:
    try:
        expected = orjson.loads(body)
    except orjson.JSONDecodeError:
        with pytest.raises(orjson.JSONDecodeError):
            loads_lifting(body, "b64_json")
        return
    assert loads_lifting(body, "b64_json") == expected


def _texts(node: object) -> object:
    """The parse with every RawB64 made a string (what a full parse gives)."""
    if isinstance(node, RawB64):
        return str(node)
    if isinstance(node, dict):
        return {k: _texts(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_texts(v) for v in node]
    return node


@pytest.mark.parametrize("body", CASES)
def test_raw_views_read_as_orjson(body: bytes) -> None:
    """With raw=True, plain base64 stays a view of the body; as strings, the same parse."""
    try:
        expected = orjson.loads(body)
    except orjson.JSONDecodeError:
        with pytest.raises(orjson.JSONDecodeError):
            loads_lifting(body, "b64_json", raw=True)
        return
    assert _texts(loads_lifting(body, "b64_json", raw=True)) == expected


def test_only_plain_base64_stays_raw() -> None:
    body = b'{"data":[{"b64_json":"%s"},{"b64_json":"data:image/png;base64,%s"}]}' % (
        BIG.encode(),
        BIG.encode(),
    )
    plain, prefixed = (
        item["b64_json"] for item in loads_lifting(body, "b64_json", raw=True)["data"]
    )
    assert isinstance(plain, RawB64) and plain.view.obj is body  # no copy
    assert str(plain) == BIG and len(plain) == len(BIG)
    assert isinstance(prefixed, str)  # not base64 alone: a string, as before
