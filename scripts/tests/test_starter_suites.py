"""The starter Postman collection under real Newman, and the starter E2E suite under pytest, against a real
loopback server that serves the simulated-DevTest endpoints of contract/pipeline.json."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CONTRACT, REPO, JsonServer, devtest_routes, require_tool

COLLECTION = REPO / "postman" / "collection.json"
ENVIRONMENT = REPO / "postman" / "devtest_env.json"
CONTRACT_PATHS = [e["path"] for e in CONTRACT["simulatedDevTest"]["endpoints"]]


# ------------------------------------------------------------------ the collection itself


def test_collection_is_v21_and_targets_exactly_the_contract_endpoints():
    col = json.loads(COLLECTION.read_text(encoding="utf-8"))
    assert col["info"]["schema"] == "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
    raws = [item["request"]["url"]["raw"] for item in col["item"]]
    assert all(item["request"]["method"] == "GET" for item in col["item"])
    assert [r.replace("{{baseUrl}}", "") for r in raws] == CONTRACT_PATHS
    variables = set(re.findall(r"\{\{(\w+)\}\}", COLLECTION.read_text(encoding="utf-8")))
    assert variables == {"baseUrl"}


def test_environment_points_at_devtest():
    env = json.loads(ENVIRONMENT.read_text(encoding="utf-8"))
    values = {v["key"]: v["value"] for v in env["values"] if v.get("enabled", True)}
    assert values == {"baseUrl": "http://DevTest"}


# ------------------------------------------------------------------ real Newman


def newman(base_url: str, reports: Path):
    npx = require_tool("npx", "to run the Postman collection with the real Newman")
    if not (REPO / "node_modules" / "newman" / "package.json").exists():
        message = "newman is not in node_modules: run npm ci at the repository root"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    reports.mkdir(parents=True, exist_ok=True)
    # The Jenkinsfile's reporters exactly, plus --env-var to aim at the loopback server instead of http://DevTest.
    cmd = [npx, "--no-install", "newman", "run", str(COLLECTION), "-e", str(ENVIRONMENT), "--env-var", f"baseUrl={base_url}",
           "-r", "cli,htmlextra,json", "--reporter-htmlextra-export", str(reports / "newman.html"),
           "--reporter-json-export", str(reports / "newman.json"), "--color", "off"]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=180)


def test_newman_passes_against_a_healthy_devtest(tmp_path):
    with JsonServer(devtest_routes()) as srv:
        proc = newman(srv.url, tmp_path / "reports")
        called = dict(srv.calls)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    run = json.loads((tmp_path / "reports" / "newman.json").read_text(encoding="utf-8"))["run"]
    assert run["stats"]["requests"]["total"] == len(CONTRACT_PATHS)
    assert run["stats"]["assertions"]["total"] >= 4 * len(CONTRACT_PATHS)
    assert run["stats"]["assertions"]["failed"] == 0
    assert run["failures"] == []
    assert called == {path: 1 for path in CONTRACT_PATHS}
    html = (tmp_path / "reports" / "newman.html").read_text(encoding="utf-8")
    assert "Newman" in html and str(run["stats"]["assertions"]["total"]) in html


def test_newman_fails_when_a_component_is_unhealthy(tmp_path):
    with JsonServer(devtest_routes(unhealthy={"/UserApi/health"})) as srv:
        proc = newman(srv.url, tmp_path / "reports")
    assert proc.returncode == 1
    run = json.loads((tmp_path / "reports" / "newman.json").read_text(encoding="utf-8"))["run"]
    failed = {(f["source"]["name"], f["error"]["test"]) for f in run["failures"]}
    assert ("UserApi health", "HTTP status is 200") in failed
    assert ("UserApi health", "status is Healthy") in failed
    assert all(name == "UserApi health" for name, _ in failed)


def test_newman_fails_when_the_version_is_missing(tmp_path):
    routes = devtest_routes()
    routes["/api/version"] = lambda n: (200, {"app": "WeSign", "commit": "abc"})
    with JsonServer(routes) as srv:
        proc = newman(srv.url, tmp_path / "reports")
    assert proc.returncode == 1
    run = json.loads((tmp_path / "reports" / "newman.json").read_text(encoding="utf-8"))["run"]
    assert [(f["source"]["name"], f["error"]["test"]) for f in run["failures"]] == [("API version", "version field is present")]


# ------------------------------------------------------------------ the E2E starter suite under pytest


def pytest_e2e(*args: str, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("BASE_URL", "E2E_REQUIRE_BROWSER", "PYTEST_ADDOPTS")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "pytest", "tests/e2e", "-p", "no:cacheprovider", *args],
                          cwd=REPO, capture_output=True, text=True, env=env, timeout=180)


def playwright_installed() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import playwright.sync_api"], capture_output=True)
    return probe.returncode == 0


def test_e2e_suite_is_collected_without_playwright():
    proc = pytest_e2e("--collect-only", "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    collected = [line for line in proc.stdout.splitlines() if "::" in line]
    assert len(collected) == 11
    for name in ("test_health_endpoint_is_healthy[/health]", "test_api_version_reports_the_deployed_version",
                 "test_management_page_loads", "test_start_page_loads"):
        assert any(name in line for line in collected), name


def test_e2e_http_checks_pass_against_a_healthy_devtest():
    with JsonServer(devtest_routes()) as srv:
        proc = pytest_e2e("-q", "-m", "not browser", env_extra={"BASE_URL": srv.url})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"\b9 passed, 2 deselected\b", proc.stdout), proc.stdout


def test_e2e_finds_components_on_different_versions():
    with JsonServer(devtest_routes(versions={"/SignerApi/health": "1.4.1"})) as srv:
        proc = pytest_e2e("-q", "-m", "not browser", env_extra={"BASE_URL": srv.url})
    assert proc.returncode == 1
    assert "test_every_component_reports_the_same_version" in proc.stdout
    assert re.search(r"\b1 failed, 8 passed\b", proc.stdout), proc.stdout


def test_e2e_fails_on_an_unhealthy_component_and_writes_junit(tmp_path):
    junit = tmp_path / "e2e-junit.xml"
    with JsonServer(devtest_routes(unhealthy={"/WeSignManagement/health"})) as srv:
        proc = pytest_e2e("-q", "-m", "not browser", f"--junitxml={junit}", env_extra={"BASE_URL": srv.url})
    assert proc.returncode == 1
    xml = junit.read_text(encoding="utf-8")
    assert 'failures="' in xml and "WeSignManagement" in xml


def test_e2e_browser_checks_skip_without_playwright_unless_required():
    if playwright_installed():
        pytest.skip("Playwright for Python is installed here: the browser checks run instead of skipping")
    with JsonServer(devtest_routes()) as srv:
        relaxed = pytest_e2e("-q", "-m", "browser", "-rs", env_extra={"BASE_URL": srv.url})
        strict = pytest_e2e("-q", "-m", "browser", env_extra={"BASE_URL": srv.url, "E2E_REQUIRE_BROWSER": "true"})
    assert relaxed.returncode == 0 and re.search(r"\b2 skipped\b", relaxed.stdout), relaxed.stdout
    assert strict.returncode == 1 and re.search(r"\b2 (failed|errors?)\b", strict.stdout), strict.stdout
    assert "py -m playwright install chromium" in strict.stdout


# ------------------------------------------------------------------ against the team sandbox's simulated DevTest


def test_newman_passes_against_the_sandbox_simulated_devtest(sandbox, tmp_path):
    proc = newman(sandbox["devtest_url"], tmp_path / "reports")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    run = json.loads((tmp_path / "reports" / "newman.json").read_text(encoding="utf-8"))["run"]
    assert run["stats"]["requests"]["total"] == len(CONTRACT_PATHS)
    assert run["stats"]["assertions"]["failed"] == 0 and run["stats"]["assertions"]["total"] > 0


def test_e2e_http_checks_pass_against_the_sandbox_simulated_devtest(sandbox):
    proc = pytest_e2e("-q", "-m", "not browser", env_extra={"BASE_URL": sandbox["devtest_url"]})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"\b9 passed\b", proc.stdout), proc.stdout
