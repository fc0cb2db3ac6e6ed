"""Rendered-resource parameters (PS3.18 §8.3.5.1) and the VOI LUT functions (PS3.3
C.11.2.1.2), without a server."""

from __future__ import annotations

import numpy as np
import pytest

from khealth.imaging import render
from khealth.imaging.render import Viewport, Window

pytestmark = pytest.mark.unit


def test_window_parameter() -> None:
    assert render.parse_window("40,400") == Window(40.0, 400.0, "linear")
    assert render.parse_window(" -600 , 1500 , SIGMOID ") == Window(-600.0, 1500.0, "sigmoid")
    assert render.parse_window("0,0.5,linear-exact").width == 0.5  # only linear needs ≥ 1
    for bad in ["40", "40,400,gamma", "a,b", "40,0.5", "40,0,sigmoid", "nan,10", "1,2,3,4"]:
        with pytest.raises(ValueError):
            render.parse_window(bad)


def test_quality_and_viewport_parameters() -> None:
    assert render.parse_quality("1") == 1 and render.parse_quality("100") == 100
    for bad in ["0", "101", "-5", "9.5", ""]:
        with pytest.raises(ValueError):
            render.parse_quality(bad)
    assert render.parse_viewport("512,256") == Viewport(512, 256)
    assert render.parse_viewport("64,64,10,20,-30,40") == Viewport(64, 64, (10, 20, -30, 40))
    for bad in ["512", "0,10", "10,10,0,0,0,5", "10,10,-1,0,5,5", "99999,10", "a,b"]:
        with pytest.raises(ValueError):
            render.parse_viewport(bad)


@pytest.mark.parametrize("function", render.WINDOW_FUNCTIONS)
def test_window_functions_run_from_black_to_white(function: str) -> None:
    values = np.linspace(-1000, 1000, 2001, dtype=np.float32)
    shown = render._apply_window(values, Window(0.0, 400.0, function))
    assert shown.dtype == np.uint8
    assert np.all(np.diff(shown.astype(int)) >= 0)  # monotone
    assert shown[0] == 0 and shown[-1] == 255  # far below / above the window
    middle = int(shown[1000])  # the centre maps to mid-grey
    assert 120 <= middle <= 135


def test_the_linear_window_bounds_follow_the_standard() -> None:
    # PS3.3 C.11.2.1.2.1: x <= c - 0.5 - (w-1)/2 -> ymin; x > c - 0.5 + (w-1)/2 -> ymax.
    c, w = 100.0, 51.0
    low, high = c - 0.5 - (w - 1) / 2, c - 0.5 + (w - 1) / 2
    shown = render._apply_window(np.array([low - 1, low, high + 0.01, high + 1], dtype=np.float32), Window(c, w))  # fmt: skip
    assert list(shown) == [0, 0, 255, 255]


def test_media_type_negotiation() -> None:
    from khealth.core.errors import KhealthError
    from khealth.web.dicomweb import rendered_media_type

    assert rendered_media_type("") == render.JPEG
    assert rendered_media_type("image/png") == render.PNG
    assert rendered_media_type("image/*;q=0.9, image/png;q=0.5") == render.JPEG
    assert rendered_media_type("text/html, image/png;q=0.1") == render.PNG
    # The most specific range decides: */* does not undo an explicit q=0.
    for refused in ["text/html", "image/jpeg;q=0", "image/png;q=0, image/jpeg;q=0, */*"]:
        with pytest.raises(KhealthError) as caught:
            rendered_media_type(refused)
        assert caught.value.status == 406
