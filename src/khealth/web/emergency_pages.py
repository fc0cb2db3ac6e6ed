"""The AI ambulance's screens: the EMS console ``/ems`` and the ER board ``/er/{facility-id}``.

The pages are **shells**: HTML, the city map's districts and the reference tables (labels, the
MKioskTy numbering, what each capability needs of live status). Every patient value and every
live status reaches the browser through the JSON API with the user's bearer token (pasted once,
kept in ``sessionStorage`` until the trust layer's sign-in arrives), so nothing personal is
rendered on the server. The ER board's live updates come over server-sent events opened with a
stream ticket (:mod:`khealth.web.stream_tickets`).

Security headers on these pages: a Content-Security-Policy that allows scripts and styles only
from this origin (all JavaScript lives in ``web/static/``; there is no inline script or style),
``X-Frame-Options: DENY`` and ``frame-ancestors 'none'`` (no clickjacking of accept/decline),
``Referrer-Policy: no-referrer``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from khealth.emergency.destination import CAPABILITY_TEXT
from khealth.emergency.notify import DECLINE_REASONS
from khealth.emergency.status_codes import (
    ACCEPTANCE,
    BED_FIELDS,
    EQUIPMENT_FIELDS,
    GATEKEEPER,
    NEEDS,
)
from khealth.synth.geography import DISTRICTS
from khealth.web import emergency_page_text as text

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static/khealth"
router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
_FACILITY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,63}$")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "geolocation=(self), camera=(), microphone=()",
    "Cache-Control": "no-store",
}

# -- the city map ------------------------------------------------------------------------------
MAP_WIDTH = 600.0
MAP_MARGIN_DEG = 0.012
DISTRICT_COLOURS = ("#dbe9f6", "#e3f1e0", "#f8ecd9", "#efe1f2", "#f6e0e0")


def city_map(width: float = MAP_WIDTH) -> dict[str, Any]:
    """Gwangju's five districts as circles of their area around their centroids (the synthetic
    city's geography), in an equirectangular projection scaled by cos(latitude) so that
    distances look right at 35° N. The projection travels to the script, which places the
    hospitals and the ambulance with it."""
    lat0 = sum(d.latitude for d in DISTRICTS) / len(DISTRICTS)
    squeeze = math.cos(math.radians(lat0))
    lat_max = max(d.latitude + d.radius_deg for d in DISTRICTS) + MAP_MARGIN_DEG
    lat_min = min(d.latitude - d.radius_deg for d in DISTRICTS) - MAP_MARGIN_DEG
    lon_min = min(d.longitude - d.radius_deg / squeeze for d in DISTRICTS) - MAP_MARGIN_DEG
    lon_max = max(d.longitude + d.radius_deg / squeeze for d in DISTRICTS) + MAP_MARGIN_DEG
    kx = width / (lon_max - lon_min)
    ky = kx / squeeze
    projection = {"lon_min": lon_min, "lat_max": lat_max, "kx": kx, "ky": ky}
    by_size = sorted(enumerate(DISTRICTS), key=lambda pair: -pair[1].area_km2)  # small on top
    districts = [
        {"name": d.name, "name_en": d.name_en, "fill": DISTRICT_COLOURS[i % len(DISTRICT_COLOURS)],
         "cx": round((d.longitude - lon_min) * kx, 1), "cy": round((lat_max - d.latitude) * ky, 1),
         "r": round(d.radius_deg * ky, 1)}
        for i, d in by_size
    ]  # fmt: skip
    return {"width": width, "height": round((lat_max - lat_min) * ky, 1),
            "projection": projection, "districts": districts}  # fmt: skip


# -- what the scripts need ---------------------------------------------------------------------
def _pair(values: tuple[str, str], language: str) -> str:
    return values[0] if language == "ko" else values[1]


def _bilingual(text_of: str, language: str) -> str:
    """'한국어 (English)' labels of the NEMC tables, in one language."""
    ko, _, en = text_of.partition(" (")
    return ko if language == "ko" or not en else en.rstrip(")")


def page_config(language: str, **extra: Any) -> dict[str, Any]:
    """Labels and reference tables for the scripts (no patient data, no live status)."""
    return {
        "lang": language,
        "text": dict(text.JS[language]),
        "capabilities": {str(c): _pair(v, language) for c, v in CAPABILITY_TEXT.items()},
        "pathways": {k: _pair(v, language) for k, v in text.PATHWAYS.items()},
        "ktas": {str(k): _pair(v, language) for k, v in text.KTAS.items()},
        # lists, not objects: the JSON block is written with sorted keys, and order matters here
        "decline_reasons": [[k, _pair(v, language)] for k, v in DECLINE_REASONS.items()],
        "acceptance": [[i.number, i.ko if language == "ko" else i.en] for i in ACCEPTANCE],
        "gatekeeper": GATEKEEPER,
        "needs": {
            str(c): {"acceptance": list(m.acceptance), "equipment": list(m.equipment)}
            for c, m in NEEDS.items()
        },
        "beds": {k: _bilingual(v, language) for k, v in BED_FIELDS.items()},
        "equipment": {k: _bilingual(v, language) for k, v in EQUIPMENT_FIELDS.items()},
        "board_beds": list(text.BOARD_BEDS),
        "board_equipment": list(text.BOARD_EQUIPMENT),
        **extra,
    }


def _language(lang: str) -> str:
    return lang if lang in text.PAGE else "ko"


def _render(request: Request, template: str, language: str, context: dict[str, Any]) -> Response:
    response = templates.TemplateResponse(
        request, template,
        {"t": text.PAGE[language], "lang": language, "other": "en" if language == "ko" else "ko",
         "static": STATIC_PATH, **context},
    )  # fmt: skip
    response.headers.update(SECURITY_HEADERS)
    return response


@router.get("/ems")
async def ems_console(request: Request, lang: str = "ko") -> Response:
    """The crew's console: assessment, ranked hospitals on the map, pre-notification."""
    language = _language(lang)
    options = {
        "mechanisms": {k: _pair(v, language) for k, v in text.MECHANISMS.items()},
        "injuries": {k: _pair(v, language) for k, v in text.INJURIES.items()},
    }
    return _render(request, "emergency/ems.html", language, {
        "map": city_map(), "complaints": text.COMPLAINTS, **options,
        "config": page_config(language, page="ems"),
    })  # fmt: skip


@router.get("/er/{facility_id}")
async def er_board(request: Request, facility_id: str, lang: str = "ko") -> Response:
    """The ER's board: incoming patients live, accept/decline, the hospital's own status."""
    language = _language(lang)
    if not _FACILITY_ID.match(facility_id):
        response = templates.TemplateResponse(
            request, "emergency/not_found.html",
            {"t": text.PAGE[language], "lang": language, "static": STATIC_PATH}, status_code=404,
        )  # fmt: skip
        response.headers.update(SECURITY_HEADERS)
        return response
    return _render(request, "emergency/er.html", language, {
        "facility_id": facility_id,
        "config": page_config(language, page="er", facility_id=facility_id),
    })  # fmt: skip


def install(app: FastAPI) -> None:
    """Serve the pages and their static files (scripts, styles) from this package."""
    app.mount(STATIC_PATH, StaticFiles(directory=str(STATIC_DIR)), name="khealth-static")
    app.include_router(router)
