#!/usr/bin/env python3
"""Create or update the WeSign-CI Pipeline job on a Jenkins server through its REST API.

    set JENKINS_API_TOKEN=<your API token>
    py jenkins/setup_job.py --url http://jenkins.example.local:8080/ --user deployer --token-env JENKINS_API_TOKEN ^
        --scm-url https://git.example.local/qa/qa-intelligence-cicd.git --first-build

What it does, in order:

1. reads jenkins/config.xml (Pipeline script from SCM, this repository's Jenkinsfile, the job parameters and
   disableConcurrentBuilds) and fills in --scm-url, --scm-branch and --scm-credentials-id;
2. authenticates with Basic auth and an API token (never a password: password logins need CSRF crumbs and are
   not exempt from them). It still asks /crumbIssuer once and sends the crumb with its session cookie, which
   costs one request and covers servers where the token is not crumb-exempt (Jenkins < 2.96); a 404 there means
   CSRF protection is off and no crumb is needed;
3. GET /job/<name>/api/json: 404 → POST /createItem?name=<name>, 200 → POST /job/<name>/config.xml;
4. reads back the job's parameter definitions and checks them against contract/pipeline.json;
5. with --first-build, starts one DRY_RUN build (TEST_SUITE=none, nothing touches DevTest) so that the
   Jenkinsfile's declarative parameters{} register too, and prints the queue item URL.

The token is read from the environment variable named by --token-env and never printed. Exit codes: 0 done,
1 Jenkins refused or failed, 2 bad arguments or files. Standard library only (Python 3.9+).
"""

from __future__ import annotations

import argparse
import base64
import http.cookiejar
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

MARKER = "[setup]"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = Path(__file__).resolve().parent / "config.xml"
DEFAULT_CONTRACT = REPO_ROOT / "contract" / "pipeline.json"
TIMEOUT_SECONDS = 30


class SetupError(Exception):
    """Carries the exit code and a message that says what to do."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def say(msg: str) -> None:
    print(f"{MARKER} {msg}", flush=True)


def job_path(name: str) -> str:
    """`a/b` is job b in folder a: /job/a/job/b (each segment URL-encoded)."""
    return "".join("/job/" + urllib.parse.quote(seg, safe="") for seg in name.split("/"))


def render_config(config_path: Path, scm_url: Optional[str], scm_branch: Optional[str],
                  scm_credentials_id: Optional[str]) -> bytes:
    try:
        tree = ET.parse(config_path)
    except FileNotFoundError:
        raise SetupError(f"{config_path} not found; pass --config with the job's config.xml", 2) from None
    except ET.ParseError as exc:
        raise SetupError(f"{config_path} is not well-formed XML ({exc}); fix the file", 2) from None
    root = tree.getroot()
    if root.tag != "flow-definition":
        raise SetupError(f"{config_path}: the root element is <{root.tag}>, expected <flow-definition> (a Pipeline job)", 2)
    remote = root.find("./definition/scm/userRemoteConfigs/hudson.plugins.git.UserRemoteConfig")
    branch = root.find("./definition/scm/branches/hudson.plugins.git.BranchSpec/name")
    if remote is None or branch is None:
        raise SetupError(f"{config_path}: no Git SCM definition (definition/scm/userRemoteConfigs) to fill in", 2)
    if scm_url:
        _child(remote, "url").text = scm_url
    if scm_credentials_id is not None:
        _child(remote, "credentialsId").text = scm_credentials_id
    if scm_branch:
        branch.text = scm_branch if scm_branch.startswith(("*/", "refs/")) else f"*/{scm_branch}"
    url = (_child(remote, "url").text or "").strip()
    if not url or ".invalid/" in url:
        raise SetupError("the job needs this repository's clone URL: pass --scm-url https://<git-host>/<group>/<repo>.git", 2)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def _child(parent: ET.Element, tag: str) -> ET.Element:
    found = parent.find(tag)
    if found is None:
        found = ET.SubElement(parent, tag)
    return found


def contract_parameters(contract_path: Path) -> List[Dict[str, Any]]:
    try:
        return json.loads(contract_path.read_text(encoding="utf-8"))["parameters"]
    except (OSError, ValueError, KeyError) as exc:
        raise SetupError(f"cannot read the parameters of {contract_path} ({exc})", 2) from None


class Jenkins:
    """A tiny Jenkins REST client: Basic auth with an API token, one crumb (with its cookie) reused for POSTs."""

    def __init__(self, base_url: str, user: str, token: str):
        self.base = base_url.rstrip("/")
        self.auth = "Basic " + base64.b64encode(f"{user}:{token}".encode("utf-8")).decode("ascii")
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect())
        self.crumb: Optional[Tuple[str, str]] = None
        self.crumb_checked = False

    def request(self, method: str, path: str, body: Optional[bytes] = None,
                content_type: Optional[str] = None) -> Tuple[int, Dict[str, str], bytes]:
        headers = {"Authorization": self.auth, "Accept": "application/json, */*"}
        if content_type:
            headers["Content-Type"] = content_type
        if method == "POST":
            self._ensure_crumb()
            if self.crumb:
                headers[self.crumb[0]] = self.crumb[1]
        req = urllib.request.Request(self.base + path, data=body if body is not None else (b"" if method == "POST" else None),
                                     headers=headers, method=method)
        try:
            with self.opener.open(req, timeout=TIMEOUT_SECONDS) as resp:
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()
        except urllib.error.URLError as exc:
            raise SetupError(f"cannot reach Jenkins at {self.base} ({exc.reason}); check --url and the network") from None

    def _ensure_crumb(self) -> None:
        if self.crumb_checked:
            return
        self.crumb_checked = True
        status, _, body = self.request("GET", "/crumbIssuer/api/json")
        if status == 200:
            data = json.loads(body.decode("utf-8"))
            self.crumb = (data["crumbRequestField"], data["crumb"])
        elif status == 404:
            self.crumb = None  # CSRF protection is off
        else:
            raise_for(status, {}, body, "GET /crumbIssuer/api/json")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Jenkins answers POSTs with 302/303; the Location is informative, not something to follow."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D401 - urllib's signature
        return None


def raise_for(status: int, headers: Dict[str, str], body: bytes, what: str) -> None:
    detail = headers.get("x-error") or _first_text(body)
    if status == 401:
        raise SetupError(f"{what}: 401, Jenkins rejected the user or API token; check --user and the token in --token-env")
    if status == 403:
        need = headers.get("x-required-permission")
        hint = f" (needs {need})" if need else ""
        raise SetupError(f"{what}: 403, the user may not do this{hint}: give it Job/Create, Job/Configure and Job/Build, "
                         f"or check that an API token (not a password) is used. {detail}".strip())
    raise SetupError(f"{what}: HTTP {status}. {detail}".strip())


def _first_text(body: bytes) -> str:
    text = re.sub(r"<[^>]+>", " ", body[:2000].decode("utf-8", "replace"))
    return re.sub(r"\s+", " ", text).strip()[:300]


def create_or_update(jenkins: Jenkins, name: str, config: bytes) -> str:
    path = job_path(name)
    status, headers, body = jenkins.request("GET", path + "/api/json?tree=name")
    if status == 200:
        status, headers, body = jenkins.request("POST", path + "/config.xml", config, "application/xml; charset=UTF-8")
        if status not in (200, 204, 302):
            raise_for(status, headers, body, f"POST {path}/config.xml")
        return "updated"
    if status != 404:
        raise_for(status, headers, body, f"GET {path}/api/json")
    parent, _, leaf = name.rpartition("/")
    create = (job_path(parent) if parent else "") + "/createItem?name=" + urllib.parse.quote(leaf, safe="")
    status, headers, body = jenkins.request("POST", create, config, "application/xml; charset=UTF-8")
    if status == 400 and b"already exists" in body:
        # Created by someone else between our GET and POST: update instead.
        return create_or_update(jenkins, name, config)
    if status not in (200, 201, 302):
        raise_for(status, headers, body, f"POST {create}")
    return "created"


def registered_parameters(jenkins: Jenkins, name: str) -> List[Dict[str, Any]]:
    tree = "property[parameterDefinitions[name,type,choices,defaultParameterValue[value]]]"
    status, headers, body = jenkins.request("GET", job_path(name) + "/api/json?tree=" + urllib.parse.quote(tree, safe=",[]"))
    if status != 200:
        raise_for(status, headers, body, f"GET {job_path(name)}/api/json")
    data = json.loads(body.decode("utf-8"))
    for prop in data.get("property", []):
        if prop.get("parameterDefinitions"):
            return prop["parameterDefinitions"]
    return []


def compare_with_contract(found: List[Dict[str, Any]], wanted: List[Dict[str, Any]]) -> List[str]:
    """Differences between the job's parameters and the contract, as readable lines (empty = in step)."""
    problems = []
    by_name = {p.get("name"): p for p in found}
    type_names = {"string": "StringParameterDefinition", "boolean": "BooleanParameterDefinition",
                  "choice": "ChoiceParameterDefinition"}
    for w in wanted:
        f = by_name.get(w["name"])
        if f is None:
            problems.append(f"parameter {w['name']} is missing")
            continue
        if f.get("type") and f["type"] != type_names[w["type"]]:
            problems.append(f"parameter {w['name']} is {f['type']}, expected {type_names[w['type']]}")
        if w["type"] == "choice" and f.get("choices") is not None and list(f["choices"]) != w["choices"]:
            problems.append(f"parameter {w['name']} choices are {f['choices']}, expected {w['choices']}")
    extra = sorted(set(by_name) - {w["name"] for w in wanted})
    if extra:
        problems.append(f"parameters not in the contract: {', '.join(extra)}")
    return problems


def trigger_dry_run(jenkins: Jenkins, name: str) -> str:
    params = {"DRY_RUN": "true", "TEST_SUITE": "none", "ACTION": "deploy", "BRANCH_OR_TAG": "main",
              "QA_RUN_ID": f"setup-job-{int(time.time())}", "delay": "0sec"}
    path = job_path(name) + "/buildWithParameters"
    status, headers, body = jenkins.request("POST", path, urllib.parse.urlencode(params).encode("ascii"),
                                            "application/x-www-form-urlencoded")
    if status not in (201, 303):
        raise_for(status, headers, body, f"POST {path}")
    location = headers.get("location", "")
    m = re.search(r"/queue/item/(\d+)/?$", location)
    return f"{jenkins.base}/queue/item/{m.group(1)}/" if m else location


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="py jenkins/setup_job.py",
        description="Create or update the WeSign-CI Pipeline job from jenkins/config.xml through the Jenkins REST API.",
        epilog="Example: py jenkins/setup_job.py --url http://jenkins:8080/ --user deployer --token-env JENKINS_API_TOKEN "
               "--scm-url https://git.example.local/qa/qa-intelligence-cicd.git --first-build",
    )
    parser.add_argument("--url", required=True, help="Jenkins base URL, e.g. http://jenkins:8080/ (JENKINS_URL)")
    parser.add_argument("--user", required=True, help="Jenkins user that owns the API token")
    parser.add_argument("--token-env", default="JENKINS_API_TOKEN",
                        help="name of the environment variable holding the API token (default JENKINS_API_TOKEN)")
    parser.add_argument("--job", default="WeSign-CI", help="job name, folder/name for a folder (default WeSign-CI)")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config.xml to send (default jenkins/config.xml)")
    parser.add_argument("--contract", type=Path, default=DEFAULT_CONTRACT, help="contract/pipeline.json to check against")
    parser.add_argument("--scm-url", help="clone URL of this repository (the one holding the Jenkinsfile)")
    parser.add_argument("--scm-branch", help="branch of this repository the job builds from (default */main)")
    parser.add_argument("--scm-credentials-id", help="Jenkins credential id for cloning this repository")
    parser.add_argument("--first-build", action="store_true",
                        help="start one dry-run build so the Jenkinsfile's parameters{} register (touches no server)")
    args = parser.parse_args(argv)

    url = urllib.parse.urlsplit(args.url)
    if url.scheme not in ("http", "https") or not url.netloc:
        parser.error(f"--url {args.url!r} is not an http(s) URL; e.g. http://jenkins:8080/")
    if url.scheme == "http" and url.hostname not in ("localhost", "127.0.0.1", "::1"):
        say("warning: http:// sends the API token unencrypted; prefer https:// for a Jenkins on the network")
    token = os.environ.get(args.token_env, "")
    if not token:
        parser.error(f"environment variable {args.token_env} is empty; put the Jenkins API token in it "
                     f"(Jenkins: your user > Security > API Token > Add new token)")
    if not re.fullmatch(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*", args.job):
        parser.error(f"--job {args.job!r} is not a job name (letters, digits, . _ -, folders separated by /)")

    try:
        config = render_config(args.config, args.scm_url, args.scm_branch, args.scm_credentials_id)
        wanted = contract_parameters(args.contract)
        jenkins = Jenkins(args.url, args.user, token)
        outcome = create_or_update(jenkins, args.job, config)
        say(f"job {args.job} {outcome} at {jenkins.base}{job_path(args.job)}/")
        problems = compare_with_contract(registered_parameters(jenkins, args.job), wanted)
        if problems:
            raise SetupError("the job's parameters differ from contract/pipeline.json: " + "; ".join(problems)
                             + ". Fix jenkins/config.xml and run again")
        say(f"parameters match contract/pipeline.json ({', '.join(w['name'] for w in wanted)})")
        if args.first_build:
            say(f"first build (dry run, nothing touches DevTest) queued: {trigger_dry_run(jenkins, args.job)}")
    except SetupError as exc:
        print(f"{MARKER} ERROR: {exc}", file=sys.stderr)
        return exc.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
