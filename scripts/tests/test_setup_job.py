"""jenkins/setup_job.py against the team's Jenkins-compatible sandbox over real HTTP (createItem, config.xml,
parameter read-back, a first dry-run build)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid

from conftest import REPO

SETUP = REPO / "jenkins" / "setup_job.py"
SCM = "https://git.example.local/qa/qa-intelligence-cicd.git"


def run_setup(sandbox, *args, token=None):
    env = {"PATH": os.environ.get("PATH", ""), "JENKINS_API_TOKEN": sandbox["token"] if token is None else token}
    return subprocess.run([sys.executable, str(SETUP), "--url", sandbox["jenkins_url"] + "/", "--user", sandbox["user"],
                           "--token-env", "JENKINS_API_TOKEN", "--scm-url", SCM, *args],
                          capture_output=True, text=True, env=env, timeout=120)


def get_json(sandbox, path):
    req = urllib.request.Request(sandbox["jenkins_url"] + path)
    auth = base64.b64encode(f"{sandbox['user']}:{sandbox['token']}".encode()).decode()
    req.add_header("Authorization", "Basic " + auth)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read().decode("utf-8"))


def get_text(sandbox, path):
    req = urllib.request.Request(sandbox["jenkins_url"] + path)
    auth = base64.b64encode(f"{sandbox['user']}:{sandbox['token']}".encode()).decode()
    req.add_header("Authorization", "Basic " + auth)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.read().decode("utf-8")


def test_creates_then_updates_the_job_and_its_parameters_match_the_contract(sandbox):
    job = f"WeSign-CI-setup-{uuid.uuid4().hex[:8]}"
    first = run_setup(sandbox, "--job", job)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"job {job} created" in first.stdout
    assert "parameters match contract/pipeline.json" in first.stdout
    assert sandbox["token"] not in first.stdout + first.stderr
    config = get_text(sandbox, f"/job/{job}/config.xml")
    assert SCM in config and "<scriptPath>Jenkinsfile</scriptPath>" in config
    second = run_setup(sandbox, "--job", job, "--scm-branch", "release")
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"job {job} updated" in second.stdout
    assert "<name>*/release</name>" in get_text(sandbox, f"/job/{job}/config.xml")


def test_first_build_is_a_dry_run_that_reaches_the_queue(sandbox):
    job = f"WeSign-CI-first-{uuid.uuid4().hex[:8]}"
    proc = run_setup(sandbox, "--job", job, "--first-build")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(l for l in proc.stdout.splitlines() if "first build" in l)
    queue_path = line.rsplit(sandbox["jenkins_url"], 1)[1]
    assert queue_path.startswith("/queue/item/")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        item = get_json(sandbox, queue_path + "api/json")
        if item.get("executable"):
            break
        time.sleep(0.2)
    number = item["executable"]["number"]
    build = get_json(sandbox, f"/job/{job}/{number}/api/json")
    params = {p["name"]: p["value"] for a in build["actions"] for p in a.get("parameters", [])}
    assert params["DRY_RUN"] is True and params["TEST_SUITE"] == "none" and params["ACTION"] == "deploy"


def test_a_wrong_token_is_a_clear_error(sandbox):
    proc = run_setup(sandbox, "--job", "WeSign-CI", token="fake-example-wrong-token")
    assert proc.returncode == 1
    assert "401" in proc.stderr and "API token" in proc.stderr
    assert "fake-example-wrong-token" not in proc.stdout + proc.stderr


def test_placeholder_scm_url_is_refused_before_any_request(tmp_path):
    env = {"PATH": os.environ.get("PATH", ""), "JENKINS_API_TOKEN": "fake-example"}
    proc = subprocess.run([sys.executable, str(SETUP), "--url", "http://127.0.0.1:9/", "--user", "x"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    assert "--scm-url" in proc.stderr
