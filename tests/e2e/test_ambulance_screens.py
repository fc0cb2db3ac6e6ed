"""The EMS console and the ER board in Chromium: the crew assesses a STEMI patient and sees
ranked hospitals on the map; the first ER sees the patient arrive live on its board (server-sent
events opened with a stream ticket) and declines with a reason; the crew sees the decline and the
next recommendation within seconds, chooses it, and the second ER accepts and updates its status.
One test on purpose: the server and browser start once (xdist would start them per worker).
Screenshots at phone (390×844) and tablet (1180×820) sizes go to the test's tmp_path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 1180, "height": 820}
LIVE_SECONDS = 6_000  # ms: "within a few seconds"


class Watch:
    """Every URL the pages request, and every console error (a CSP violation is one)."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.errors: list[str] = []
        self.failed: list[str] = []

    def attach(self, page: Page) -> Page:
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("response", lambda r: self.failed.append(r.url) if r.status >= 400 else None)
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        return page


def open_page(browser: Any, watch: Watch, url: str, token: str, viewport: dict[str, int]) -> Page:
    context: BrowserContext = browser.new_context(viewport=viewport, locale="ko-KR")
    page = watch.attach(context.new_page())
    page.goto(url)
    page.fill("#token", token)
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#app")).to_be_visible()
    return page


def fill_stemi(page: Page) -> None:
    values = {"age": "67", "chief_complaint": "흉통", "respiratory_rate": "22", "spo2": "95",
              "systolic_bp": "105", "heart_rate": "115", "temperature": "38.5", "gcs": "15",
              "pain": "7", "glucose": "140"}  # fmt: skip
    for name, value in values.items():
        page.fill(f"#assessment [name={name}]", value)
    page.click("#assessment label:has(input[name=sex][value=male])")
    page.click("#assessment label:has(input[name=consciousness][value=A])")
    page.click("#assessment label:has(input[name=stemi_ecg])")


def first_ranked(page: Page) -> str:
    return str(page.locator("#ranked > li").first.get_attribute("data-facility-id"))


def board(browser: Any, watch: Watch, server: Server, facility_id: str, viewport: dict[str, int]) -> Page:  # fmt: skip
    page = open_page(browser, watch, f"{server.base}/er/{facility_id}", server.er_token(facility_id), viewport)  # fmt: skip
    expect(page.locator("#live")).to_have_attribute("data-state", "on", timeout=LIVE_SECONDS)
    return page


def refuses_a_bad_token(browser: Any, server: Server, facility_id: str) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{server.base}/er/{facility_id}?lang=en")
    expect(page.locator("#app")).to_be_hidden()
    page.fill("#token", "not-a-token")
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#signin-error")).to_contain_text("invalid or has expired")
    context.close()


def test_the_crew_is_rerouted_live_when_the_first_er_declines(
    browser: Any, server: Server, tmp_path: Path
) -> None:
    watch = Watch()
    crew_token = server.crew_token()
    crew = open_page(browser, watch, f"{server.base}/ems", crew_token, TABLET)
    expect(crew.locator("#map-facilities circle")).to_have_count(18)  # every ER on the map
    fill_stemi(crew)
    crew.click("#recommend")
    expect(crew.locator("#ranked > li")).to_have_count(5)
    expect(crew.locator("#triage .ktas")).to_have_attribute("data-ktas", re.compile(r"^[12]$"))
    expect(crew.locator("#map-facilities circle.ranked")).to_have_count(5)
    expect(crew.locator("#ambulance-marker")).to_have_count(1)
    expect(crew.locator("#ranked > li").first).to_contain_text("PCI")
    expect(crew.locator("#ranked > li").first.locator(".flag.Y").first).to_be_visible()
    crew.screenshot(path=tmp_path / "ems-tablet-ranked.png")
    first = first_ranked(crew)

    refuses_a_bad_token(browser, server, first)
    er1_token = server.er_token(first)
    er1 = board(browser, watch, server, first, PHONE)
    expect(er1.locator("#no-incoming")).to_be_visible()

    crew.locator("#ranked > li").first.locator("button.choose").click()
    expect(crew.locator("#notice")).to_have_attribute("data-state", "pending")

    card = er1.locator("#incoming > li")
    expect(card).to_have_count(1, timeout=LIVE_SECONDS)  # arrived by the event stream
    expect(card).to_have_class(re.compile(r"ktas-border-[12]"))
    expect(card.locator(".vitals")).to_contain_text("SBP 105mmHg")
    expect(card.locator(".countdown")).to_have_text(re.compile(r"^\d+:\d\d$"))
    er1.screenshot(path=tmp_path / "er-phone-incoming.png", full_page=True)

    card.locator("select.reason").select_option("no_specialist")
    card.locator("button.decline").click()
    expect(er1.locator("#incoming > li")).to_have_count(0, timeout=LIVE_SECONDS)

    expect(crew.locator("#notice")).to_have_attribute(
        "data-state", "declined", timeout=LIVE_SECONDS
    )
    expect(crew.locator("#notice .reason")).to_contain_text("전문의 부재")
    expect(crew.locator("#ranked > li").first).not_to_have_attribute("data-facility-id", first, timeout=LIVE_SECONDS)  # fmt: skip
    expect(crew.locator(f"#ranked > li[data-facility-id='{first}']")).to_have_count(0)
    expect(crew.locator("#map-facilities circle.refused")).to_have_count(1)
    crew.screenshot(path=tmp_path / "ems-tablet-declined.png")
    second = first_ranked(crew)

    er2 = board(browser, watch, server, second, TABLET)
    crew.locator("#ranked > li").first.locator("button.choose").click()
    card2 = er2.locator("#incoming > li")
    expect(card2).to_have_count(1, timeout=LIVE_SECONDS)
    card2.locator("button.accept").click()
    expect(crew.locator("#notice")).to_have_attribute(
        "data-state", "accepted", timeout=LIVE_SECONDS
    )
    expect(card2).to_have_attribute("data-state", "accepted")

    er2.fill("#status-form [name=hvec]", "2")
    er2.click("#status-form details summary")  # the 28 acceptance flags fold away
    er2.select_option("#status-form [name=MKioskTy1]", "N")
    er2.click("#status-form button[type=submit]")
    expect(er2.locator("#toast")).to_be_visible()
    saved = server.get(f"/api/emergency/facilities/{second}/status")
    assert saved["hvec"] == 2 and saved["MKioskTy1"] == "N" and saved["hvangioayn"] == "Y"
    er2.screenshot(path=tmp_path / "er-tablet-accepted.png", full_page=True)
    crew.set_viewport_size(PHONE)
    crew.locator("#notice").scroll_into_view_if_needed()
    crew.screenshot(path=tmp_path / "ems-phone-accepted.png")
    crew.locator("#city-map").scroll_into_view_if_needed()
    crew.screenshot(path=tmp_path / "ems-phone-map.png")

    # The long-lived bearer tokens never travel in a URL; the stream is opened with a ticket.
    for token in (crew_token, er1_token):
        assert not [u for u in watch.urls if token in u]
    assert any("/events?ticket=" in u for u in watch.urls)
    assert [u for u in watch.failed if not u.endswith("/favicon.ico")] == []
    assert [e for e in watch.errors if "Failed to load resource" not in e] == []  # e.g. CSP
    log = server.log.read_text()
    assert crew_token not in log and er1_token not in log and "ticket=" not in log
