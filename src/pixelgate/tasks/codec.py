"""The canonical request of a task ↔ the JSON kept in its row.

A task must be resumable by any process after a crash, so the row holds the whole prepared
request. Image bytes never go into the row: input images — and, in the client's native
fields, every data URL, every base64 string that decodes to an image and any long string —
are written to the blob store under `tasks/<task id>/…`; the row keeps only
`{"$blob": key}` references.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import orjson

from pixelgate.core.models import (
    ImageFormat,
    ImageInput,
    ImageRequest,
    Operation,
    ResponseFormat,
    Size,
    sniff_format,
)
from pixelgate.storage.blobs import BlobStore

__all__ = ["INLINE_LIMIT", "RequestCodec"]

# Strings longer than this in native fields go to the blob store whatever they hold.
INLINE_LIMIT = 2048
_BLOB = "$blob"
_B64 = re.compile(r"[A-Za-z0-9+/=_-]+")


def _bulky(value: str) -> bool:
    """Image data (a data URL or base64 of an image) or simply too long for a row."""
    if len(value) > INLINE_LIMIT or value.startswith("data:"):
        return True
    if len(value) < 64 or not _B64.fullmatch(value[:64]):
        return False
    try:
        head = base64.b64decode(value[:32] + "=" * (-len(value[:32]) % 4))
    except (binascii.Error, ValueError):
        return False
    return sniff_format(head) is not None


_SCALARS = (
    "prompt",
    "n",
    "aspect_ratio",
    "resolution",
    "quality",
    "output_compression",
    "background",
    "style",
    "negative_prompt",
    "seed",
    "user",
)
# Added later: rows written before them lack these keys (read with their defaults).
_LATER = ("protocol", "keep_upstream_urls")


class _Writer:
    def __init__(self, blobs: BlobStore, prefix: str) -> None:
        self.blobs = blobs
        self.prefix = prefix
        self.keys: list[str] = []

    async def put(self, data: bytes, content_type: str) -> str:
        key = f"{self.prefix}/{len(self.keys)}.bin"
        await self.blobs.put(key, data, content_type)
        self.keys.append(key)
        return key

    async def externalise(self, value: Any) -> Any:
        if isinstance(value, str) and _bulky(value):
            return {_BLOB: await self.put(value.encode(), "text/plain")}
        if isinstance(value, dict):
            return {k: await self.externalise(v) for k, v in value.items()}
        if isinstance(value, list):
            return [await self.externalise(v) for v in value]
        return value

    async def image(self, item: ImageInput | None) -> dict[str, Any] | None:
        if item is None:
            return None
        if item.data is None:
            # A link the gateway never fetched: the body goes upstream as it came (DashScope
            # passthrough), so the upstream fetches it.
            assert item.url is not None, "an input image is either bytes or a link"
            return {"url": item.url, "param": item.param}
        key = await self.put(item.data, item.content_type or "application/octet-stream")
        return {
            _BLOB: key,
            "content_type": item.content_type,
            "filename": item.filename,
            "param": item.param,
        }


class RequestCodec:
    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs

    @staticmethod
    def prefix(task_id: str) -> str:
        return f"tasks/{task_id}"

    async def dump(self, task_id: str, req: ImageRequest) -> tuple[str, list[str]]:
        """The row's JSON and the blob keys written (to remove if the row is not stored)."""
        w = _Writer(self.blobs, self.prefix(task_id))
        try:
            doc: dict[str, Any] = {name: getattr(req, name) for name in (*_SCALARS, *_LATER)}
            doc |= {
                "model": req.model,
                "operation": req.operation.value,
                "size": str(req.size) if req.size else None,
                "output_format": req.output_format.value if req.output_format else None,
                "response_format": req.response_format.value,
                "images": [await w.image(i) for i in req.images],
                "mask": await w.image(req.mask),
                "native": await w.externalise(req.native),
                "upstream_params": await w.externalise(req.upstream_params),
            }
        except BaseException:
            await self.discard(w.keys)
            raise
        return orjson.dumps(doc).decode(), w.keys

    async def load(self, text: str, inputs: bool = True) -> ImageRequest:
        """The request back; `inputs=False` skips reading the input images (for steps that
        only need the output options)."""
        doc: dict[str, Any] = orjson.loads(text)
        images = tuple([await self._image(i) for i in doc["images"]]) if inputs else ()
        mask = await self._image(doc["mask"]) if doc["mask"] and inputs else None
        return ImageRequest(
            model=doc["model"],
            operation=Operation(doc["operation"]),
            size=Size.parse(doc["size"]) if doc["size"] else None,
            output_format=ImageFormat(doc["output_format"]) if doc["output_format"] else None,
            response_format=ResponseFormat(doc["response_format"]),
            images=images,
            mask=mask,
            native=await self._internalise(doc["native"]),
            upstream_params=await self._internalise(doc["upstream_params"]),
            **{name: doc[name] for name in _SCALARS},
            **{name: doc[name] for name in _LATER if name in doc},
        )

    async def _read(self, key: str) -> bytes:
        data = await self.blobs.get(key)
        if data is None:
            raise LookupError(f"the task input {key} is missing from the blob store")
        return data

    async def _image(self, ref: dict[str, Any]) -> ImageInput:
        if _BLOB not in ref:
            return ImageInput(url=ref["url"], param=ref.get("param"))
        return ImageInput(
            data=await self._read(ref[_BLOB]),
            content_type=ref.get("content_type"),
            filename=ref.get("filename"),
            param=ref.get("param"),
        )

    async def _internalise(self, value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {_BLOB}:
                return (await self._read(value[_BLOB])).decode()
            return {k: await self._internalise(v) for k, v in value.items()}
        if isinstance(value, list):
            return [await self._internalise(v) for v in value]
        return value

    async def discard(self, keys: list[str]) -> None:
        for key in keys:
            await self.blobs.delete(key)

    async def discard_task(self, text: str) -> None:
        """Remove a finished task's input blobs (best effort; they are never read again)."""
        keys: list[str] = []

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                if _BLOB in value and isinstance(value[_BLOB], str):
                    keys.append(value[_BLOB])
                for v in value.values():
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)

        walk(orjson.loads(text))
        await self.discard(keys)
