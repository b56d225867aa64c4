"""WeSign's health endpoints answer 200 with {status: 'Healthy', version} (contract/pipeline.json)."""

import pytest

HEALTH_PATHS = ["/health", "/WeSignManagement/health", "/UserApi/health", "/SignerApi/health"]


@pytest.mark.parametrize("path", HEALTH_PATHS)
def test_health_endpoint_is_healthy(http_get, path):
    result = http_get(path)
    assert result.status == 200, f"GET {path} returned HTTP {result.status}: {result.body[:200]!r}"
    body = result.json()
    assert body.get("status") == "Healthy", f"GET {path}: status is {body.get('status')!r}, expected 'Healthy'"
    assert body.get("version"), f"GET {path}: no version in {body}"


def test_site_health_names_the_app(http_get):
    body = http_get("/health").json()
    assert body.get("app") == "WeSign"


def test_api_version_reports_the_deployed_version(http_get):
    result = http_get("/api/version")
    assert result.status == 200, f"GET /api/version returned HTTP {result.status}"
    body = result.json()
    assert body.get("app") == "WeSign"
    assert body.get("version"), f"no version in {body}"
    assert "commit" in body, f"no commit in {body}"


def test_every_component_reports_the_same_version(http_get):
    # A half-finished deploy shows up as components on different versions.
    versions = {path: http_get(path).json().get("version") for path in HEALTH_PATHS}
    assert len(set(versions.values())) == 1, f"components disagree on the version: {versions}"
