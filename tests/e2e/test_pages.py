"""The WeSign site's start page loads in a real browser without errors."""

import pytest


@pytest.mark.browser
def test_start_page_loads(browser_page, base_url):
    errors = []
    browser_page.on("pageerror", lambda exc: errors.append(str(exc)))
    response = browser_page.goto(base_url + "/", wait_until="load")
    assert response is not None, "no response for the start page"
    assert response.status < 400, f"start page returned HTTP {response.status}"
    assert browser_page.content().strip(), "start page is empty"
    assert not errors, f"JavaScript errors on the start page: {errors}"
