"""``multipart/related`` bodies (RFC 2387) as DICOMweb uses them (PS3.18 §8.6.1.2):
reading STOW-RS requests and writing WADO-RS responses."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from khealth.core.errors import InvalidRequest, Issue, UnsupportedMediaType


@dataclass(frozen=True, slots=True)
class Part:
    media_type: str
    data: bytes


def media_params(header: str) -> tuple[str, dict[str, str]]:
    """``type/subtype; a=b; c="d"`` → (``type/subtype``, {a: b, c: d}); names lower-cased."""
    media, *rest = header.split(";")
    params = {}
    for item in rest:
        name, _, value = item.partition("=")
        if name.strip():
            params[name.strip().lower()] = value.strip().strip('"')
    return media.strip().lower(), params


def boundary_of(content_type: str, part_type: str) -> str:
    media, params = media_params(content_type)
    if media != "multipart/related":
        raise UnsupportedMediaType([Issue("not-supported", "the body must be multipart/related")])
    declared = params.get("type", part_type).lower()
    if declared != part_type:
        raise UnsupportedMediaType(
            [Issue("not-supported", f'multipart/related type must be "{part_type}"')]
        )
    boundary = params.get("boundary", "")
    if not boundary or len(boundary) > 70:
        raise InvalidRequest([Issue("invalid", "multipart/related needs a boundary parameter")])
    return boundary


def read_parts(content_type: str, body: bytes, part_type: str = "application/dicom") -> list[Part]:
    boundary = b"--" + boundary_of(content_type, part_type).encode("ascii", "replace")
    start = body.find(boundary)
    if start < 0:
        raise InvalidRequest([Issue("invalid", "the multipart body has no boundary delimiter")])
    parts: list[Part] = []
    position = start + len(boundary)
    while True:
        if body[position : position + 2] == b"--":
            return parts
        line_end = body.find(b"\r\n", position)
        end = body.find(b"\r\n" + boundary, line_end)
        if line_end < 0 or end < 0:
            raise InvalidRequest([Issue("invalid", "the multipart body is not closed")])
        parts.append(_part(body[line_end + 2 : end], part_type))
        position = end + 2 + len(boundary)


def _part(raw: bytes, default_type: str) -> Part:
    if raw.startswith(b"\r\n"):
        return Part(default_type, raw[2:])
    head, separator, data = raw.partition(b"\r\n\r\n")
    if not separator:
        raise InvalidRequest([Issue("invalid", "a multipart part has no header end")])
    media = default_type
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-type":
            media = media_params(value)[0]
    return Part(media, data)


def write_parts(parts: Sequence[Part], part_type: str) -> tuple[bytes, str]:
    """The body and its Content-Type for these parts (``part_type``: the type parameter)."""
    boundary = uuid.uuid4().hex
    chunks = []
    for part in parts:
        chunks.append(f"--{boundary}\r\nContent-Type: {part.media_type}\r\n\r\n".encode("ascii"))
        chunks.extend([part.data, b"\r\n"])
    chunks.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(chunks), f'multipart/related; type="{part_type}"; boundary={boundary}'
