"""Encode multipart/form-data bodies for upstream requests (pure; no I/O)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

__all__ = ["FilePart", "encode_multipart"]


@dataclass(frozen=True, slots=True)
class FilePart:
    name: str
    filename: str
    content_type: str
    data: bytes


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")


def encode_multipart(fields: list[tuple[str, str]], files: list[FilePart]) -> tuple[bytes, str]:
    """Return (body, content type with boundary)."""
    boundary = "pixelgate-" + secrets.token_hex(12)
    out = bytearray()
    for name, value in fields:
        out += f"--{boundary}\r\n".encode()
        out += f'Content-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    for part in files:
        out += f"--{boundary}\r\n".encode()
        out += (
            f'Content-Disposition: form-data; name="{_quote(part.name)}"; '
            f'filename="{_quote(part.filename)}"\r\n'
            f"Content-Type: {part.content_type}\r\n\r\n"
        ).encode()
        out += part.data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"
