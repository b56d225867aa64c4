#!/usr/bin/env python3
"""Python smoke check (the optional companion of scripts/ps/smoke.ps1).

    py scripts/smoke_check.py --url http://DevTest/health --url http://DevTest/WeSignManagement/health

GETs each URL; anything but the expected status (200) is retried up to
``--retries`` times (default 3) with exponential backoff (``--backoff`` seconds,
doubled after each try). Every attempt is timed. Writes a log
``logs/smoke_<timestamp>.log`` and a JSON result (default
``logs/smoke_<timestamp>.json``, or ``--json PATH``; per URL the fields of
smoke.ps1's smoke.json: url, ok, status, attempts, ms, error, plus each try),
prints each line with the
``[smoke]`` marker, and exits 0 when every URL is healthy, 1 when any is not,
2 for bad arguments.

Without ``--url`` the URLs come from the SMOKE_URLS environment variable (a JSON
array, or a list separated by commas or semicolons), as the Jenkinsfile sets it.
Standard library only (Python 3.9+). Proxies from the environment are ignored
unless ``--use-proxy`` is given, because DevTest is reached directly from
Jenkins. Credentials in a URL (``user:pass@``) and secret-looking query
parameters are masked in every output; a URL with credentials is refused.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, TextIO

MARKER = "[smoke]"
SECRET_PARAM_RE = re.compile(r"(token|key|password|secret|sig|code)", re.IGNORECASE)
MAX_RETRIES = 10


def redact_url(url: str) -> str:
    """Hide user:password@ and secret-looking query values."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = "&".join(
        f"{k}=***" if SECRET_PARAM_RE.search(k) else (f"{k}={v}" if v != "" else k)
        for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def parse_url_list(text: str) -> List[str]:
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"SMOKE_URLS looks like JSON but is not valid ({exc.msg} at column {exc.colno})") from None
        if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
            raise ValueError("SMOKE_URLS as JSON must be an array of strings")
        return [u.strip() for u in value if u.strip()]
    return [u.strip() for u in re.split(r"[,;\n]", text) if u.strip()]


def validate_url(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{redact_url(url)!r} is not an http(s) URL; give a full URL such as http://DevTest/health")
    if "@" in parts.netloc:
        raise ValueError(f"{redact_url(url)!r} carries credentials; health URLs must not need them, remove the user:password@ part")


class Logger:
    """Writes each line to stdout and to the log file, always with the stage marker."""

    def __init__(self, log_file: TextIO, out: TextIO):
        self.log_file = log_file
        self.out = out

    def __call__(self, msg: str) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
        line = f"{MARKER} {msg}"
        print(line, file=self.out, flush=True)
        self.log_file.write(f"{stamp} {line}\n")
        self.log_file.flush()


def check_url(url: str, retries: int, backoff: float, timeout: float, expect_status: int,
              opener: urllib.request.OpenerDirector, log: Callable[[str], None],
              sleep: Callable[[float], None] = time.sleep) -> Dict[str, Any]:
    shown = redact_url(url)
    attempts: List[Dict[str, Any]] = []
    started = time.monotonic()
    for attempt in range(1, retries + 2):
        t0 = time.monotonic()
        status: Optional[int] = None
        error: Optional[str] = None
        try:
            req = urllib.request.Request(url, method="GET", headers={"Accept": "application/json", "User-Agent": "smoke_check.py"})
            with opener.open(req, timeout=timeout) as resp:
                status = resp.status
                resp.read(65536)  # drain a little so keep-alive servers are happy; the body is not judged
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
        except urllib.error.URLError as exc:
            error = f"connection failed: {exc.reason}"
        except (TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        elapsed_ms = round((time.monotonic() - t0) * 1000, 1)
        ok = status == expect_status
        attempts.append({"attempt": attempt, "status": status, "error": error, "ms": elapsed_ms})
        outcome = f"HTTP {status}" if status is not None else error
        log(f"{shown} attempt {attempt}/{retries + 1}: {outcome} in {elapsed_ms} ms")
        if ok:
            break
        if attempt <= retries:
            delay = backoff * (2 ** (attempt - 1))
            log(f"{shown} not healthy yet, retrying in {delay:g} s")
            sleep(delay)
    last = attempts[-1]
    healthy = last["status"] == expect_status
    # The same per-URL fields as scripts/ps/smoke.ps1's smoke.json, so the report aggregator reads either.
    return {
        "url": shown,
        "ok": healthy,
        "status": last["status"],
        "attempts": len(attempts),
        "ms": round((time.monotonic() - started) * 1000, 1),
        "error": None if healthy else (last["error"] or f"HTTP {last['status']}, expected {expect_status}"),
        "tries": attempts,
    }


def run(urls: List[str], retries: int, backoff: float, timeout: float, expect_status: int, logs_dir: Path,
        json_path: Optional[Path], fail_fast: bool, use_proxy: bool, out: TextIO = sys.stdout) -> int:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d_%H%M%S")
    logs_dir.mkdir(parents=True, exist_ok=True)
    log_path = logs_dir / f"smoke_{stamp}.log"
    n = 2
    while log_path.exists():  # two runs in the same second keep both logs
        log_path = logs_dir / f"smoke_{stamp}_{n}.log"
        n += 1
    json_path = json_path or log_path.with_suffix(".json")
    handlers: List[urllib.request.BaseHandler] = [] if use_proxy else [urllib.request.ProxyHandler({})]
    opener = urllib.request.build_opener(*handlers)
    started_at = datetime.now(timezone.utc).isoformat()
    results: List[Dict[str, Any]] = []
    with open(log_path, "w", encoding="utf-8") as lf:
        log = Logger(lf, out)
        log(f"checking {len(urls)} URL(s), up to {retries} retries each, backoff {backoff:g} s, timeout {timeout:g} s")
        for url in urls:
            result = check_url(url, retries, backoff, timeout, expect_status, opener, log)
            results.append(result)
            log(f"{result['url']}: {'healthy' if result['ok'] else 'UNHEALTHY (' + result['error'] + ')'}")
            if fail_fast and not result["ok"]:
                log("fail fast: remaining URLs not checked")
                break
        healthy = sum(1 for r in results if r["ok"])
        ok = healthy == len(urls)
        log(f"{'PASS' if ok else 'FAIL'}: {healthy}/{len(urls)} healthy; log {log_path}; result {json_path}")
    summary = {
        "tool": "smoke_check.py",
        "label": "smoke",
        "ok": ok,
        "healthy": healthy,
        "total": len(urls),
        "checked": len(results),
        "expect_status": expect_status,
        "retries": retries,
        "backoff_seconds": backoff,
        "timeout_seconds": timeout,
        "started_at": started_at,
        "finished_at": datetime.now(timezone.utc).isoformat(),
        "log": str(log_path),
        "urls": results,
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0 if ok else 1


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="py scripts/smoke_check.py",
        description="GET each URL with retries and backoff; exit 0 if all answer the expected status, 1 if not.",
        epilog="Example: py scripts/smoke_check.py --url http://DevTest/health --url http://DevTest/WeSignManagement/health",
    )
    parser.add_argument("--url", action="append", default=[], help="URL to check (repeatable); default: $SMOKE_URLS")
    parser.add_argument("--retries", type=int, default=3, help="retries after the first attempt (default 3, at most 10)")
    parser.add_argument("--backoff", type=float, default=2.0, help="seconds before the first retry, doubled each time (default 2)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    parser.add_argument("--expect-status", type=int, default=200, help="the healthy HTTP status (default 200)")
    parser.add_argument("--logs-dir", type=Path, default=Path("logs"), help="where smoke_<timestamp>.log goes (default logs)")
    parser.add_argument("--json", type=Path, help="JSON result path (default logs/smoke_<timestamp>.json)")
    parser.add_argument("--fail-fast", action="store_true", help="stop at the first URL that stays unhealthy")
    parser.add_argument("--use-proxy", action="store_true", help="honour HTTP(S)_PROXY from the environment")
    args = parser.parse_args(argv)

    if not 0 <= args.retries <= MAX_RETRIES:
        parser.error(f"--retries must be between 0 and {MAX_RETRIES}, got {args.retries}")
    if args.backoff < 0 or args.timeout <= 0:
        parser.error("--backoff must be >= 0 and --timeout > 0 (seconds)")
    try:
        urls = args.url or parse_url_list(os.environ.get("SMOKE_URLS", ""))
        if not urls:
            parser.error("no URLs: pass --url http://DevTest/health (repeatable) or set SMOKE_URLS")
        for u in urls:
            validate_url(u)
    except ValueError as exc:
        parser.error(str(exc))
    return run(urls, args.retries, args.backoff, args.timeout, args.expect_status, args.logs_dir, args.json,
               args.fail_fast, args.use_proxy)


if __name__ == "__main__":
    sys.exit(main())
