"""Shared fixtures for the WeSign starter E2E suite (pytest + Playwright for Python).

BASE_URL (environment) points the suite at a WeSign site, e.g. http://DevTest (the Jenkinsfile sets it from
DEVTEST_BASE_URL). The HTTP checks use only the standard library; the page checks need Playwright, which is
imported inside the browser fixture only, so `py -m pytest tests/e2e --collect-only` works on a machine without
it. Without Playwright a page test is skipped, unless E2E_REQUIRE_BROWSER=true (the Jenkinsfile sets it), which
turns the skip into a failure so a half-installed Jenkins server cannot pass the E2E stage by skipping.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any, Dict, Iterator, NamedTuple

import pytest

DEFAULT_BASE_URL = "http://DevTest"
HTTP_TIMEOUT_SECONDS = float(os.environ.get("E2E_HTTP_TIMEOUT", "15"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: needs Playwright and a browser (py -m playwright install chromium)")


@pytest.fixture(scope="session")
def base_url(pytestconfig: pytest.Config) -> str:
    """BASE_URL, else pytest-base-url's --base-url when that plugin is installed, else http://DevTest.

    Session-scoped with the same name as pytest-base-url's fixture, so pytest-playwright's page.goto('/') works too.
    """
    url = os.environ.get("BASE_URL") or _option(pytestconfig, "base_url") or DEFAULT_BASE_URL
    return url.rstrip("/")


def _option(config: pytest.Config, name: str) -> Any:
    try:
        return config.getoption(name)
    except ValueError:
        return None


class HttpResult(NamedTuple):
    status: int
    headers: Dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8-sig"))


@pytest.fixture(scope="session")
def http_get(base_url: str):
    """GET base_url + path without following the environment's proxy settings; returns status, headers, body."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def get(path: str) -> HttpResult:
        req = urllib.request.Request(base_url + path, headers={"Accept": "application/json"})
        try:
            with opener.open(req, timeout=HTTP_TIMEOUT_SECONDS) as resp:
                return HttpResult(resp.status, dict(resp.headers.items()), resp.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return HttpResult(exc.code, dict(exc.headers.items()), exc.read())

    return get


@pytest.fixture
def browser_page(request: pytest.FixtureRequest, base_url: str) -> Iterator[Any]:
    """A Playwright page: pytest-playwright's `page` when that plugin is installed, else a headless Chromium."""
    if request.config.pluginmanager.hasplugin("playwright"):
        yield request.getfixturevalue("page")
        return
    if os.environ.get("E2E_REQUIRE_BROWSER", "").lower() == "true":
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            pytest.fail("Playwright is not installed: py -m pip install -r tests/e2e/requirements.txt, "
                        "then py -m playwright install chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(headless=True)
        try:
            page = browser.new_page()
            yield page
        finally:
            browser.close()
