"""`GET /v1/files/{id}?exp=&sig=`: stored images behind signed, expiring links."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from pixelgate.dialects import openai_images
from pixelgate.errors import NotFound, PermissionDenied
from pixelgate.http.jsonio import JSONResponse
from pixelgate.http.runner import services_of

__all__ = ["routes"]

_CACHE = "private, max-age=3600"


async def get_file(request: Request) -> Response:
    files = services_of(request).files
    file_id = request.path_params["file_id"]
    exp_raw = request.query_params.get("exp", "")
    sig = request.query_params.get("sig", "")
    if not exp_raw.isdigit() or not sig:
        return _error(PermissionDenied("This link is not signed."))
    if not files.verify(file_id, int(exp_raw), sig, time.time()):
        return _error(PermissionDenied("This link has expired or its signature is invalid."))
    stored = await files.get(file_id)
    if stored is None:
        return _error(NotFound("This file does not exist or has been purged."))
    path = files.blobs.local_path(stored.blob_key)
    headers = {"Cache-Control": _CACHE}
    if path is not None:
        return FileResponse(path, media_type=stored.content_type, headers=headers)
    data = await files.blobs.get(stored.blob_key)
    if data is None:
        return _error(NotFound("This file does not exist or has been purged."))
    return Response(data, media_type=stored.content_type, headers=headers)


def _error(err: PermissionDenied | NotFound) -> Response:
    return JSONResponse(openai_images.render_error(err), status_code=err.status)


routes = [Route("/v1/files/{file_id}", get_file, methods=["GET", "HEAD"])]
