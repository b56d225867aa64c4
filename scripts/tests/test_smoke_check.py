"""scripts/smoke_check.py against a real HTTP server on loopback (no timing assertions)."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, JsonServer

sys.path.insert(0, str(REPO / "scripts"))
import smoke_check as sc  # noqa: E402

TINY_BACKOFF = 0.01  # keeps the test quick; the backoff itself is not what is measured


def recovering(after: int):
    """503 for the first `after` calls, then 200: a pool that is still warming up."""
    return lambda n: (503, {"status": "Starting"}) if n <= after else (200, {"status": "Healthy"})


def routes():
    return {
        "/health": lambda n: (200, {"status": "Healthy"}),
        "/warming/health": recovering(2),
        "/broken/health": lambda n: (503, {"status": "Unhealthy"}),
    }


def run(urls, tmp_path: Path, retries=3, fail_fast=False):
    out = io.StringIO()
    json_path = tmp_path / "result.json"
    code = sc.run(urls, retries, TINY_BACKOFF, 5.0, 200, tmp_path / "logs", json_path, fail_fast, False, out=out)
    return code, json.loads(json_path.read_text(encoding="utf-8")), out.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_all_healthy_exits_0_and_records_each_url(tmp_path):
    with JsonServer(routes()) as srv:
        code, result, text = run([srv.url + "/health"], tmp_path)
    assert code == 0
    assert result["ok"] is True and result["healthy"] == 1 and result["total"] == 1
    entry = result["urls"][0]
    assert entry["status"] == 200 and entry["attempts"] == 1 and len(entry["tries"]) == 1
    assert isinstance(entry["ms"], float) and isinstance(entry["tries"][0]["ms"], float)
    assert all(line.startswith("[smoke] ") for line in text.splitlines())


def test_a_url_that_recovers_passes_after_retries(tmp_path):
    with JsonServer(routes()) as srv:
        code, result, _ = run([srv.url + "/warming/health"], tmp_path)
        assert srv.calls["/warming/health"] == 3
    assert code == 0
    assert [a["status"] for a in result["urls"][0]["tries"]] == [503, 503, 200]
    assert result["urls"][0]["attempts"] == 3


def test_a_url_that_never_recovers_fails_after_retries(tmp_path):
    with JsonServer(routes()) as srv:
        code, result, text = run([srv.url + "/health", srv.url + "/broken/health"], tmp_path, retries=3)
        assert srv.calls["/broken/health"] == 4  # the first try and 3 retries
    assert code == 1
    assert result["ok"] is False and result["healthy"] == 1 and result["total"] == 2
    broken = result["urls"][1]
    assert broken["ok"] is False and broken["status"] == 503 and "expected 200" in broken["error"]
    assert "FAIL: 1/2 healthy" in text


def test_connection_refused_is_reported_not_raised(tmp_path):
    code, result, _ = run([f"http://127.0.0.1:{free_port()}/health"], tmp_path, retries=1)
    assert code == 1
    assert result["urls"][0]["status"] is None
    assert "connection failed" in result["urls"][0]["error"]


def test_fail_fast_stops_at_the_first_unhealthy_url(tmp_path):
    with JsonServer(routes()) as srv:
        code, result, text = run([srv.url + "/broken/health", srv.url + "/health"], tmp_path, retries=0, fail_fast=True)
        assert "/health" not in srv.calls
    assert code == 1 and result["checked"] == 1 and result["total"] == 2
    assert "remaining URLs not checked" in text


def test_writes_a_timestamped_log_in_logs_dir(tmp_path):
    with JsonServer(routes()) as srv:
        run([srv.url + "/health"], tmp_path)
        run([srv.url + "/health"], tmp_path)  # a second run in the same second keeps both logs
    logs = sorted((tmp_path / "logs").glob("smoke_*.log"))
    assert len(logs) == 2
    content = logs[0].read_text(encoding="utf-8")
    assert "[smoke] " in content and "/health attempt 1/4: HTTP 200" in content


def test_cli_reads_smoke_urls_from_the_environment_and_writes_json(tmp_path):
    with JsonServer(routes()) as srv:
        env = {"SMOKE_URLS": f"{srv.url}/health,{srv.url}/warming/health", "PATH": ""}
        proc = subprocess.run([sys.executable, str(REPO / "scripts" / "smoke_check.py"), "--backoff", "0.01",
                               "--logs-dir", str(tmp_path / "logs")], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = list((tmp_path / "logs").glob("smoke_*.json"))
    assert len(results) == 1
    assert json.loads(results[0].read_text())["healthy"] == 2


@pytest.mark.parametrize("args, message", [
    (["--url", "ftp://DevTest/health"], "is not an http(s) URL"),
    (["--url", "http://u:fake-example@DevTest/health"], "carries credentials"),
    (["--url", "http://DevTest/health", "--retries", "11"], "--retries must be between 0 and 10"),
    ([], "no URLs"),
])
def test_cli_rejects_bad_arguments_with_exit_2(args, message, tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "smoke_check.py"), *args,
                           "--logs-dir", str(tmp_path)], capture_output=True, text=True, env={"PATH": ""})
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "fake-example" not in proc.stderr


def test_parse_url_list_accepts_json_and_separated_lists():
    assert sc.parse_url_list('["http://a/h", "http://b/h"]') == ["http://a/h", "http://b/h"]
    assert sc.parse_url_list("http://a/h; http://b/h,\nhttp://c/h") == ["http://a/h", "http://b/h", "http://c/h"]
    with pytest.raises(ValueError, match="not valid"):
        sc.parse_url_list('["http://a/h",')


def test_redact_url_hides_credentials_and_secret_parameters():
    assert sc.redact_url("http://user:fake-example@host/p?token=abc&x=1") == "http://***@host/p?token=***&x=1"


def test_help_says_py():
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "smoke_check.py"), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "py scripts/smoke_check.py" in proc.stdout
