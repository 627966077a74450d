"""Real-browser fixtures: the app served by werkzeug in a thread, driven by Playwright on
Debian's Chromium (never a downloaded browser). Tests here skip when chromium is missing."""
from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}

# Reported by the page itself: Chromium logs a CSP refusal as a console error too, but this
# names the directive even when the refusal happens before any console is attached.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("CSP violation: " + event.violatedDirective + " blocked " + event.blockedURI);
});
"""


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if not path:
        pytest.skip("browser tests need Debian's chromium on PATH (apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="browser tests need playwright (Python)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS,
                                             headless=True)
        yield browser
        browser.close()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app on 127.0.0.1:<free port>, with CSRF checks on as in production."""
    csrf_before = app.config["WTF_CSRF_ENABLED"]
    app.config["WTF_CSRF_ENABLED"] = True
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.config["WTF_CSRF_ENABLED"] = csrf_before


@dataclass
class PageProblems:
    """What a user's browser complained about while the test ran."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_responses: list[str] = field(default_factory=list)

    def assert_none(self) -> None:
        assert not self.console_errors, self.console_errors
        assert not self.page_errors, self.page_errors
        assert not self.failed_responses, self.failed_responses


@pytest.fixture
def open_page(browser: Any, live_server: str) -> Iterator[Callable[..., tuple[Any, PageProblems]]]:
    """open_page("phone") -> (page, problems): a fresh browser context at that width."""
    contexts = []

    def open_(viewport: str) -> tuple[Any, PageProblems]:
        context = browser.new_context(
            base_url=live_server, viewport=VIEWPORTS[viewport], locale="fr-FR",
            is_mobile=viewport == "phone", has_touch=viewport == "phone")
        context.set_default_timeout(10_000)
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        contexts.append(context)
        page = context.new_page()
        problems = PageProblems()
        page.on("console", lambda msg: problems.console_errors.append(
            f"{msg.text} ({msg.location.get('url') or page.url})") if msg.type == "error" else None)
        page.on("pageerror", lambda exc: problems.page_errors.append(f"{exc} ({page.url})"))
        page.on("response", lambda response: problems.failed_responses.append(
            f"{response.status} {response.url}") if response.status >= 400 else None)
        return page, problems

    yield open_
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
