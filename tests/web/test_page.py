"""The page in a real headless Chromium (Debian's, driven by Playwright, which never fetches a
browser of its own): live values follow the frames, both graphs are drawn from the database,
and the page asks nothing of any machine but the reader.

`make screenshot` runs this test with TELEINFOREADER_SCREENSHOT set to the PNG to write
(docs/web-page.png, shown in README).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.web.http_helpers import (
    Reading,
    database_sections,
    local_midnight,
    seed_database,
    seed_readings,
    wait_published,
    web_daemon,
)

CHROMIUM = Path("/usr/bin/chromium")
# A fresh profile, and nothing the browser would fetch for itself (updates, sync, QUIC probes).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_VARIABLE = "TELEINFOREADER_SCREENSHOT"
DAYS = 30


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A Chromium context with its own new profile; fails (never skips) when Chromium is
    missing, since `make test` installs it."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `make test` installs Debian's chromium"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1100, "height": 900},
            locale="en-GB",
            timezone_id="UTC" if not os.environ.get("TZ") else os.environ["TZ"],
        )
        try:
            yield context
        finally:
            context.close()


def text_is(page: Any, element: str, expected: str) -> None:
    page.wait_for_function(
        "([id, text]) => document.getElementById(id).textContent === text",
        arg=[element, expected],
        timeout=20_000,
    )


def test_the_page_follows_the_meter_draws_both_graphs_and_asks_only_the_reader(
    tmp_path: Path, browser: Any
) -> None:
    sections, settings = database_sections("sqlite", tmp_path, None, None)
    # Until a minute ago: the last 24 hours of power are all in the database.
    readings = seed_readings(DAYS, local_midnight(), datetime.now() - timedelta(minutes=1))
    seed_database(settings, tmp_path / "state", readings)
    last = readings[-1][1]
    with web_daemon(tmp_path, sections) as daemon:
        for n, papp in enumerate((640, 650)):
            daemon.meter.send(Reading(last.hchc + 10 + n, last.hchp, papp))
        wait_published(daemon, 650)

        requests: list[str] = []

        def only_the_reader(route: Any) -> None:
            requests.append(route.request.url)
            if urlsplit(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                route.abort()

        browser.route("**/*", only_the_reader)
        page = browser.new_page()
        problems: list[str] = []
        page.on(
            "console", lambda message: message.type == "error" and problems.append(message.text)
        )
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(daemon.url + "/")

        text_is(page, "power-value", "650")
        daemon.meter.send(Reading(last.hchc + 12, last.hchp, 770))
        text_is(page, "power-value", "770")  # pushed by the event stream, no reload
        # A day of stored power (a row every 5 minutes) and the live frames; each earlier day's
        # off-peak and peak parts.
        page.wait_for_function(
            "() => Number(document.getElementById('power-graph').dataset.points) > 200"
        )
        page.wait_for_function(
            f"() => Number(document.getElementById('energy-graph').dataset.bars) >= {2 * DAYS - 2}"
        )
        page.wait_for_function("() => document.getElementById('health').dataset.healthy === 'true'")
        text_is(page, "period", "off-peak")
        rows = page.locator("#energy-table tbody tr")
        assert rows.count() == 2  # off-peak and peak
        assert page.locator("#meter-details").inner_text().count(readings[0][1].groups()["ADCO"])

        screenshot = os.environ.get(SCREENSHOT_VARIABLE)
        if screenshot:
            page.screenshot(path=screenshot, full_page=True)
        page.close()

    assert requests, "the page made no request at all"
    outside = [url for url in requests if urlsplit(url).hostname != "127.0.0.1"]
    assert outside == []
    assert problems == []
