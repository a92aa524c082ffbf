"""End to end: the real dashboard process, in a real headless Chromium (Debian's).

Starts ``python -m cli.dashboard_command`` on a free port over a folder of real
runs, loads each page, checks the key numbers are on screen, saves a screenshot per page
under ``test-output/dashboard/``, and stops the process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from dashboard.budget import format_epsilon
from tests.conftest import REPO_ROOT
from tests.dashboard.apptest import run_of
from tests.dashboard.conftest import Stores

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = REPO_ROOT / "test-output" / "dashboard"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the dashboard process exited early"
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the dashboard at {url} did not become healthy in {timeout} s")


@pytest.fixture(scope="module")
def dashboard_url(stores: Stores) -> Iterator[str]:
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "cli.dashboard_command",
        "--store",
        str(stores.runs),
        "--port",
        str(port),
        "--refresh-seconds",
        "0",
    ]
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _load(browser: Browser, url: str, title: str, expected: list[str]) -> tuple[Page, str]:
    """Open ``url``, wait until the script has finished and its charts are drawn."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url)
    page.get_by_role("heading", name=title, exact=True).wait_for(timeout=60_000)
    for text in expected:
        page.get_by_text(text).first.wait_for(timeout=60_000)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=60_000)
    charts = page.locator(".vega-embed")
    for index in range(charts.count()):
        charts.nth(index).locator("canvas, svg").first.wait_for(timeout=30_000)
    page.wait_for_timeout(500)  # let the charts' entry transitions settle for the screenshot
    text = page.inner_text("body")
    for wanted in expected:
        assert wanted in text, f"{wanted!r} is not on the {title} page"
    return page, text


def _shoot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    page.close()
    return path


def test_each_page_shows_its_key_numbers_in_a_real_browser(
    browser: Browser, dashboard_url: str, stores: Stores
) -> None:
    last = run_of(stores.cohort).rounds[-1]  # the first run in the picker
    epsilon = format_epsilon(last["epsilon_rdp"])

    page, text = _load(browser, dashboard_url, "Overview", ["4 / 4", epsilon, "Participation"])
    assert _shoot(page, "overview").stat().st_size > 10_000

    expected = [epsilon, "Rounds left in budget", "Epsilon over rounds"]
    page, text = _load(browser, f"{dashboard_url}/privacy_budget", "Privacy budget", expected)
    _shoot(page, "privacy-budget")

    expected = ["Training loss", "Clipping norm"]
    page, text = _load(browser, f"{dashboard_url}/training", "Training", expected)
    _shoot(page, "training")

    expected = ["Secure aggregation: off", "central", "replace one user"]
    page, text = _load(browser, f"{dashboard_url}/audit", "Audit", expected)
    assert "REPLACE_ONE" not in text
    _shoot(page, "audit")
