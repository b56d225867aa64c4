"""The management application (WeSignManagement) is up and identifies itself."""

import pytest


def test_management_health_names_its_component(http_get):
    result = http_get("/WeSignManagement/health")
    assert result.status == 200
    assert result.json().get("component") == "WeSignManagement"


def test_management_health_is_json(http_get):
    result = http_get("/WeSignManagement/health")
    content_type = {k.lower(): v for k, v in result.headers.items()}.get("content-type", "")
    assert "application/json" in content_type, f"Content-Type is {content_type!r}"


@pytest.mark.browser
def test_management_page_loads(browser_page, base_url):
    response = browser_page.goto(base_url + "/WeSignManagement/", wait_until="load")
    assert response is not None and response.status < 400, f"HTTP {response.status if response else 'no response'}"
