"""`loads_lifting` returns exactly what `orjson.loads` returns, and raises when it raises."""

from __future__ import annotations

import orjson
import pytest

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
