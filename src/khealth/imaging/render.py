"""Rendered frames for browsers (PS3.18 §8.3.5, §9.5): a frame's pixels through the
Modality LUT (rescale slope/intercept) and a VOI window, as an 8-bit PNG.

Pixel decoding is pydicom's: uncompressed and RLE always work; JPEG, JPEG-LS and JPEG 2000
need a decoder plugin (Pillow, pylibjpeg, GDCM) that this installation may lack, in which
case :class:`CannotRender` says so.  The PNG is written here with zlib (PNG spec, W3C
2003): one IDAT, filter 0, 8-bit grey or RGB — no imaging library needed.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset

PNG = "image/png"


class CannotRender(Exception):
    """The frame exists but cannot be turned into an image here; the message says why."""


def render_png(data: bytes, frame: int = 1) -> bytes:
    """Frame ``frame`` (1-based) of a Part 10 file as a PNG."""
    ds = dcmread(io.BytesIO(data))
    if "PixelData" not in ds:
        raise CannotRender("the instance has no pixel data")
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if not 1 <= frame <= frames:
        raise IndexError(frame)
    pixels = _decoded(ds, frame)
    return encode_png(_display(ds, pixels))


def _decoded(ds: Dataset, frame: int) -> Any:
    try:
        from pydicom.pixels.utils import pixel_array

        return pixel_array(ds, index=frame - 1, raw=False)
    except (NotImplementedError, RuntimeError, ValueError, ImportError) as error:
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        name = getattr(syntax, "name", "this transfer syntax")
        raise CannotRender(
            f"no decoder for {name} is installed (pydicom needs Pillow, pylibjpeg or GDCM)"
        ) from error


def _display(ds: Dataset, pixels: Any) -> Any:
    """8-bit display values: colour as it is, greyscale through rescale and a window."""
    array = np.asarray(pixels)
    if array.ndim == 3:  # (rows, columns, samples): RGB after pydicom's colour conversion
        if array.dtype != np.uint8:
            array = _stretch(array.astype(np.float64))
        return array[:, :, :3]
    values = array.astype(np.float64)
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    values = values * slope + intercept
    window = _window(ds)
    shown = _apply_window(values, *window) if window else _stretch(values)
    if str(ds.get("PhotometricInterpretation", "")) == "MONOCHROME1":
        shown = 255 - shown
    return shown


def _window(ds: Dataset) -> tuple[float, float] | None:
    """The first VOI window of the header (PS3.3 C.11.2), if any."""
    centre, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if centre is None or width is None:
        return None
    try:
        c = float(
            centre[0] if hasattr(centre, "__len__") and not isinstance(centre, str) else centre
        )
        w = float(width[0] if hasattr(width, "__len__") and not isinstance(width, str) else width)
    except (TypeError, ValueError, IndexError):
        return None
    return (c, w) if w >= 1 else None


def _apply_window(values: Any, centre: float, width: float) -> Any:
    # The linear VOI function of PS3.3 C.11.2.1.2.1.
    scaled = ((values - (centre - 0.5)) / (width - 1) + 0.5) * 255
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _stretch(values: Any) -> Any:
    """No window in the header: the default window spans the frame's own range."""
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.clip((values - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def encode_png(image: Any) -> bytes:
    """An 8-bit greyscale (rows, columns) or RGB (rows, columns, 3) array as PNG."""
    array = np.ascontiguousarray(image, dtype=np.uint8)
    rows, columns = array.shape[:2]
    colour_type = 2 if array.ndim == 3 else 0
    header = struct.pack(">IIBBBBB", columns, rows, 8, colour_type, 0, 0, 0)
    stride = columns * (3 if colour_type == 2 else 1)
    raw = np.zeros((rows, stride + 1), dtype=np.uint8)  # a filter-type byte (0) per row
    raw[:, 1:] = array.reshape(rows, stride)
    return b"".join(
        [b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header),
         _chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)), _chunk(b"IEND", b"")]
    )  # fmt: skip


def decode_png_size(data: bytes) -> tuple[int, int]:
    """(columns, rows) from a PNG's header, for checks."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)
