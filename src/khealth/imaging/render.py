"""Rendered frames for browsers (PS3.18 §8.3.5 rendered resources, §9.5 Retrieve Rendered):
a frame's pixels through the Modality LUT and a VOI window, as an 8-bit JPEG or PNG.

* Decoding is pydicom's, for rendering only (the stored file is never changed): native and
  RLE always; JPEG baseline and JPEG 2000 through Pillow; JPEG-LS through pyjpegls; JPEG
  lossless and what the others refuse through GDCM.  Whatever no installed decoder can
  read (12-bit JPEG Extended needs pylibjpeg-libjpeg, which is GPL and not a dependency;
  a damaged codestream) raises :class:`CannotRender` naming the transfer syntax.
* Greyscale: Modality LUT (rescale slope/intercept, or a Modality LUT Sequence), then the
  window of the request (``window=center,width,function``), else the header's first VOI
  window with its VOI LUT Function, else the frame's own range; MONOCHROME1 is inverted.
  Colour: YBR is converted to RGB, PALETTE COLOR through its palette.
* ``viewport=vw,vh[,sx,sy,sw,sh]``: the source region (negative sw/sh flip it), scaled
  to fit vw×vh keeping the aspect ratio.  ``quality`` (1–100) is the JPEG quality.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import UID

JPEG = "image/jpeg"
PNG = "image/png"
MEDIA_TYPES = (JPEG, PNG)  # the first is the default (PS3.18 Table 8.7.4-1)
DEFAULT_QUALITY = 90
WINDOW_FUNCTIONS = ("linear", "linear-exact", "sigmoid")  # PS3.18 §8.3.5.1.4
MAX_SAMPLES = 50_000_000  # decoded samples of one frame (8000 × 6000 greyscale); more is refused
MAX_VIEWPORT = 8192


class CannotRender(Exception):
    """The frame exists but cannot be turned into an image here; the message says why
    (never a value from the file)."""


@dataclass(frozen=True, slots=True)
class Window:
    centre: float
    width: float
    function: str = "linear"


@dataclass(frozen=True, slots=True)
class Viewport:
    width: int
    height: int
    region: tuple[int, int, int, int] | None = None  # sx, sy, sw, sh


@dataclass(frozen=True, slots=True)
class RenderOptions:
    media_type: str = JPEG
    quality: int = DEFAULT_QUALITY
    window: Window | None = None
    viewport: Viewport | None = None


# -- query parameters (ValueError with a message for the client) --------------------------
def parse_window(text: str) -> Window:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (2, 3):
        raise ValueError("window is center,width,function (function: linear, linear-exact or sigmoid)")  # fmt: skip
    try:
        centre, width = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError("window center and width must be numbers") from None
    function = parts[2].lower() if len(parts) == 3 else "linear"
    if function not in WINDOW_FUNCTIONS:
        raise ValueError("window function must be linear, linear-exact or sigmoid")
    if not (math.isfinite(centre) and math.isfinite(width)):
        raise ValueError("window center and width must be finite")
    if not _width_ok(width, function):
        raise ValueError("window width must be at least 1 (linear) or above 0")
    return Window(centre, width, function)


def _width_ok(width: float, function: str) -> bool:
    # PS3.3 C.11.2.1.2: the linear function needs a width of at least 1, the others above 0.
    return math.isfinite(width) and (width >= 1 if function == "linear" else width > 0)


def parse_quality(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= 100:
        raise ValueError("quality is an integer from 1 to 100")
    return int(text)


def parse_viewport(text: str) -> Viewport:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (2, 6):
        raise ValueError("viewport is vw,vh or vw,vh,sx,sy,sw,sh")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise ValueError("viewport values must be integers") from None
    vw, vh = numbers[:2]
    if not (1 <= vw <= MAX_VIEWPORT and 1 <= vh <= MAX_VIEWPORT):
        raise ValueError(f"viewport width and height must be 1 to {MAX_VIEWPORT}")
    if len(numbers) == 2:
        return Viewport(vw, vh)
    sx, sy, sw, sh = numbers[2:]
    if sx < 0 or sy < 0 or sw == 0 or sh == 0:
        raise ValueError("the viewport region needs sx, sy ≥ 0 and non-zero sw, sh")
    return Viewport(vw, vh, (sx, sy, sw, sh))


# -- rendering ----------------------------------------------------------------------------
def frame_count(ds: Dataset) -> int:
    try:
        return max(int(ds.get("NumberOfFrames", 1) or 1), 1)
    except (TypeError, ValueError):
        return 1


def render(data: bytes, frame: int = 1, options: RenderOptions | None = None) -> bytes:
    """Frame ``frame`` (1-based) of a Part 10 file as ``options.media_type``; IndexError
    when the instance has no such frame."""
    options = options or RenderOptions()
    try:
        ds = dcmread(io.BytesIO(data))
    except Exception as error:  # its header was read when stored; the rest may be damaged
        raise CannotRender("the stored file could not be read as DICOM") from error
    if "PixelData" not in ds:
        raise CannotRender("the instance has no pixel data (only images can be rendered)")
    if not 1 <= frame <= frame_count(ds):
        raise IndexError(frame)
    _check_size(ds)
    shown = _display(ds, _decoded(ds, frame), options.window)
    if options.viewport is not None:
        shown = _in_viewport(shown, options.viewport)
    return encode(shown, options.media_type, options.quality)


def _syntax(ds: Dataset) -> str:
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if not syntax:
        return "an unknown transfer syntax"
    uid = UID(str(syntax))
    return f"{uid.name} ({uid})" if uid.name != str(uid) else str(uid)


def _check_size(ds: Dataset) -> None:
    try:
        samples = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1) or 1)
    except (AttributeError, TypeError, ValueError):
        raise CannotRender("the image pixel module (Rows, Columns) is missing or invalid") from None  # fmt: skip
    if samples <= 0:
        raise CannotRender("the image pixel module (Rows, Columns) is missing or invalid")
    if samples > MAX_SAMPLES:
        raise CannotRender(f"the frame is too large to render here ({samples} samples, at most {MAX_SAMPLES})")  # fmt: skip


def _decoded(ds: Dataset, frame: int) -> Any:
    from pydicom.pixels.utils import pixel_array

    try:
        # Any decoder may fail on a damaged or unusual codestream, in its own way.
        return pixel_array(ds, index=frame - 1, raw=False)
    except Exception as error:
        syntax = _syntax(ds)
        compressed = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        if compressed is not None and UID(str(compressed)).is_compressed:
            raise CannotRender(
                f"frame {frame} is {syntax}, which the installed decoders (Pillow, pyjpegls, "
                "GDCM) cannot decode; the file itself is kept and served as stored"
            ) from error
        raise CannotRender(f"the pixel data of frame {frame} ({syntax}) could not be read") from error  # fmt: skip


def _display(ds: Dataset, pixels: Any, window: Window | None) -> Any:
    """8-bit display values: colour as RGB, greyscale through the Modality LUT and a window."""
    array = np.asarray(pixels)
    photometric = str(ds.get("PhotometricInterpretation", "")).upper()
    if photometric == "PALETTE COLOR" and array.ndim == 2:
        from pydicom.pixels.processing import apply_color_lut

        array = np.asarray(apply_color_lut(array, ds))
    if array.ndim == 3:  # (rows, columns, samples): RGB after pydicom's colour conversion
        array = array[:, :, :3]
        if array.dtype != np.uint8:
            array = _stretch(array.astype(np.float32))
        return array
    values = _modality(ds, array)
    chosen = window or _header_window(ds)
    shown = _apply_window(values, chosen) if chosen else _stretch(values)
    if photometric == "MONOCHROME1":
        shown = 255 - shown
    return shown


def _modality(ds: Dataset, array: Any) -> Any:
    if "ModalityLUTSequence" in ds:
        from pydicom.pixels.processing import apply_modality_lut

        return np.asarray(apply_modality_lut(array, ds), dtype=np.float32)
    try:
        slope = float(ds.get("RescaleSlope", 1) or 1)
        intercept = float(ds.get("RescaleIntercept", 0) or 0)
    except (TypeError, ValueError):
        slope, intercept = 1.0, 0.0
    values = array.astype(np.float32)
    if slope != 1.0:
        values *= np.float32(slope)
    if intercept != 0.0:
        values += np.float32(intercept)
    return values


def _first(value: Any) -> float:
    if hasattr(value, "__len__") and not isinstance(value, str):
        value = value[0]
    return float(value)


def _header_window(ds: Dataset) -> Window | None:
    """The first VOI window of the header (PS3.3 C.11.2), with its VOI LUT Function."""
    centre, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if centre is None or width is None:
        return None
    try:
        c, w = _first(centre), _first(width)
    except (TypeError, ValueError, IndexError):
        return None
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").lower().replace("_", "-")
    if function not in WINDOW_FUNCTIONS:
        function = "linear"
    if not (math.isfinite(c) and _width_ok(w, function)):
        return None
    return Window(c, w, function)


def _apply_window(values: Any, window: Window) -> Any:
    """The VOI LUT functions of PS3.3 C.11.2.1.2 onto 0–255."""
    c, w = window.centre, window.width
    if window.function == "sigmoid":
        scaled = 255.0 / (1.0 + np.exp(np.clip(-4.0 * (values - c) / w, -80, 80)))
    elif window.function == "linear-exact":
        scaled = ((values - c) / w + 0.5) * 255.0
    else:
        scaled = ((values - (c - 0.5)) / (w - 1) + 0.5) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _stretch(values: Any) -> Any:
    """No window: the frame's own range spans 0–255."""
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.clip((values - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8)


def _in_viewport(image: Any, viewport: Viewport) -> Any:
    if viewport.region is not None:
        sx, sy, sw, sh = viewport.region
        rows, columns = image.shape[:2]
        if sx >= columns or sy >= rows:
            raise CannotRender("the viewport region lies outside the image")
        # The region is |sw| × |sh| from (sx, sy); a negative sw or sh flips it.
        image = image[sy : sy + abs(sh), sx : sx + abs(sw)]
        if sw < 0:
            image = image[:, ::-1]
        if sh < 0:
            image = image[::-1]
        image = np.ascontiguousarray(image)
    rows, columns = image.shape[:2]
    scale = min(viewport.width / columns, viewport.height / rows)
    size = (max(1, round(columns * scale)), max(1, round(rows * scale)))
    if size == (columns, rows):
        return image
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def encode(image: Any, media_type: str, quality: int = DEFAULT_QUALITY) -> bytes:
    """An 8-bit greyscale (rows, columns) or RGB (rows, columns, 3) array as JPEG or PNG."""
    picture = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    out = io.BytesIO()
    if media_type == JPEG:
        picture.save(out, "JPEG", quality=quality)
    elif media_type == PNG:
        picture.save(out, "PNG", compress_level=6)
    else:
        raise ValueError(media_type)
    return out.getvalue()
