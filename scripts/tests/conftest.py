"""Shared helpers for the tests of the pipeline's Python utilities, Jenkinsfile and starter suites.

Run from the repository root:  python3 -m pytest -q scripts/tests   (py -m pytest -q scripts/tests on Windows)

Tests that need an outside tool (node/npx for Newman and the sandbox, pwsh for PowerShell parsing) skip when the
tool is missing on a developer machine, and fail under CI=true, where a missing tool is a broken setup.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Dict, Iterator, Optional, Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTRACT = json.loads((REPO / "contract" / "pipeline.json").read_text(encoding="utf-8"))
IN_CI = os.environ.get("CI") == "true"


def require_tool(names, why: str) -> str:
    """Path of the first tool found on PATH (or ~/.dotnet/tools); skip locally, fail under CI=true."""
    extra = [str(Path.home() / ".dotnet" / "tools"), str(REPO / ".tools" / "bin")]
    path = os.pathsep.join([os.environ.get("PATH", "")] + extra)
    for name in ([names] if isinstance(names, str) else names):
        found = shutil.which(name, path=path)
        if found:
            return found
    message = f"{names} not found: needed {why}"
    if IN_CI:
        pytest.fail(message + " (CI=true: a missing tool is a failure)")
    pytest.skip(message)
    raise AssertionError("unreachable")


# A route answers (status, json body); it receives how many times it has been called (1-based).
Route = Callable[[int], Tuple[int, dict]]


class JsonServer:
    """A real HTTP server on loopback whose routes are plain functions (one thread per request)."""

    def __init__(self, routes: Dict[str, Route]):
        self.routes = routes
        self.calls: Dict[str, int] = {}
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                route = outer.routes.get(self.path)
                with lock:
                    outer.calls[self.path] = outer.calls.get(self.path, 0) + 1
                    n = outer.calls[self.path]
                if route is None:
                    status, body = 404, {"error": f"no route {self.path}"}
                else:
                    status, body = route(n)
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # keep pytest output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "JsonServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def devtest_routes(version: str = "1.4.2", unhealthy: Optional[set] = None,
                   versions: Optional[Dict[str, str]] = None) -> Dict[str, Route]:
    """The simulated DevTest endpoints of contract/pipeline.json, bodies with placeholders filled in."""
    unhealthy = unhealthy or set()
    versions = versions or {}
    routes: Dict[str, Route] = {}
    for endpoint in CONTRACT["simulatedDevTest"]["endpoints"]:
        path = endpoint["path"]
        body = {k: v for k, v in endpoint["body"].items()}
        for key, value in body.items():
            if value == "<version>":
                body[key] = versions.get(path, version)
            elif value == "<sha>":
                body[key] = "0123456789abcdef0123456789abcdef01234567"
            elif value == "<iso8601>":
                body[key] = "2026-12-04T12:00:00Z"

        def route(n, body=body, path=path):
            if path in unhealthy:
                return 503, {"status": "Unhealthy", "reason": "fake fault for the test"}
            return 200, body

        routes[path] = route
    # The start page and the management page, for the page-load checks.
    routes["/"] = lambda n: (200, {"page": "WeSign"})
    routes["/WeSignManagement/"] = lambda n: (200, {"page": "WeSignManagement"})
    return routes


@pytest.fixture
def devtest() -> Iterator[JsonServer]:
    with JsonServer(devtest_routes()) as server:
        yield server


# ------------------------------------------------------------------ the team's sandbox (a Jenkins-compatible server)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Dict[str, str]]:
    """`npm run sandbox`'s program (backend/ci/src/sandbox/cli.ts) on free loopback ports, read from what it prints.

    It speaks the Jenkins REST subset (createItem, config.xml, buildWithParameters, queue...) and serves a simulated
    DevTest with the health endpoints. Started once per session and stopped by its own process group id.
    """
    import re
    import signal
    import subprocess
    import time

    require_tool("node", "to run the team's Jenkins-compatible sandbox")
    tsx = REPO / "node_modules" / ".bin" / "tsx"
    cli = REPO / "backend" / "ci" / "src" / "sandbox" / "cli.ts"
    if not tsx.exists() or not cli.exists():
        message = f"the sandbox is not available ({'no ' + str(cli) if not cli.exists() else 'tsx not in node_modules: npm ci'})"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    env = {**os.environ, "SANDBOX_PORT": "0", "SANDBOX_DEVTEST_PORT": "0", "SANDBOX_TIME_SCALE": "0.02",
           "SANDBOX_HOST": "127.0.0.1"}
    env.pop("SANDBOX_DATA_DIR", None)
    proc = subprocess.Popen([str(tsx), str(cli)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    info: Dict[str, str] = {}
    lines = []
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            for key, label in (("jenkins_url", "Jenkins URL"), ("user", "user"), ("token", "API token"),
                               ("devtest_url", "simulated DevTest")):
                m = re.match(r"\s+" + label + r"\s+(\S+)\s*$", line)
                if m and key not in info:
                    info[key] = m.group(1).rstrip("/")
            if "Ctrl+C stops it" in line:
                break
        missing = {"jenkins_url", "user", "token", "devtest_url"} - set(info)
        assert not missing, f"the sandbox did not print {sorted(missing)}; it printed:\n{''.join(lines)[-3000:]}"
        yield info
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.stdout.close()
