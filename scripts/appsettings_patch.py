#!/usr/bin/env python3
"""Environment transform for a packaged WeSign zip (the pipeline's Config Transform stage).

    py scripts/appsettings_patch.py --env DevTest --input artifact\\WeSign.zip --output artifact\\WeSign.DevTest.zip

For every ``appsettings.json`` inside the zip (at the root or in an application
folder such as ``UserApi/``) it writes, into the output zip, one merged
``appsettings.json`` built in this order:

1. the zip's ``appsettings.json``;
2. the zip's ``appsettings.<env>.json`` in the same folder, merged the way .NET
   layers configuration (objects key by key, arrays element by element). That
   file is then left out of the output, so nothing at run time can layer it
   over the overrides again;
3. the override files kept in this repository under ``config/overrides/<env>/``:
   ``appsettings.json`` there applies to every application, ``<Folder>.json``
   (for example ``UserApi.json``) only to the ``appsettings.json`` in a zip
   folder of that name. In override files an array replaces the array whole,
   ``"Key:0"`` replaces one element, and an object merges key by key unless it
   contains ``"$replace": true``, which replaces it whole.

Rules shared by both layers:

* files are read as .NET reads them: ``//`` and ``/* */`` comments, trailing
  commas and a UTF-8 byte order mark are accepted; keys match
  case-insensitively and keep the casing of the first file that had them;
* a key may be a path, ``"Logging:LogLevel:Default"`` or
  ``"Logging__LogLevel__Default"``;
* JSON value types are kept (a number stays a number);
* secrets never live in this repository: an override value may only say
  ``${ENV:NAME}`` (whole value or inside a string such as a connection
  string), resolved from the environment variable NAME when the tool runs. A
  whole-value placeholder over a number or boolean is converted to that type.
  Other ``${...}`` text (NLog layouts) is left as it is. An override that puts a literal value under a
  secret-looking key (password, secret, token, api key...) is refused.

Nothing is written unless every input is valid: a missing file, bad JSON
(reported with file, line and column), an unresolved placeholder or an unsafe
zip entry stops the tool with exit code 2 and a message saying what to fix.
``--dry-run`` prints the keys that would change, secrets masked, and writes
nothing (an unresolved placeholder is still reported, after the list, with exit 2). Run twice on the same input the output zip is byte-identical: entries
are written in sorted order with their original timestamps and fixed
compression settings.

Standard library only (Python 3.9+). Every line printed starts with ``[config]``.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import re
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Dict, List, Optional, Tuple

MARKER = "[config]"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OVERRIDES_DIR = REPO_ROOT / "config" / "overrides"

# `${ENV:NAME}`. Other `${...}` text (NLog layouts such as ${longdate}) is left alone.
PLACEHOLDER_RE = re.compile(r"\$\{ENV:([A-Za-z_][A-Za-z0-9_]*)\}")
# A key is secret-looking when its last path segment is `Key` or ends in one of these words
# (anchored at the end so that `TokenIssuer` or `PasswordPolicy:MinLength` are not flagged).
SECRET_KEY_RE = re.compile(
    r"^(key|.*(password|passwd|pwd|secret|apikey|api_key|privatekey|private_key|signingkey|accesskey|token))$",
    re.IGNORECASE,
)
# `Password=...;` inside connection strings.
CONN_SECRET_RE = re.compile(r"((?:password|pwd)\s*=\s*)([^;]*)", re.IGNORECASE)
REPLACE_MARKER = "$replace"
# Fixed so that a second run produces the same bytes.
COMPRESS_LEVEL = 6


class PatchError(Exception):
    """An input problem the user can fix; the message says what and how."""


# --------------------------------------------------------------------------
# Reading JSON the way .NET's JSON configuration provider accepts it
# --------------------------------------------------------------------------

def strip_jsonc(text: str, source: str) -> str:
    """Blank out comments and trailing commas, keeping every line and column in place.

    Replacing with spaces (and keeping newlines) means json's error positions
    still point at the user's file.
    """
    out = list(text)
    i, n = 0, len(text)
    in_string = False
    last_sig = -1  # index of the last significant (non-space, non-comment) char
    while i < n:
        c = text[i]
        if in_string:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_string = False
                last_sig = i
            i += 1
            continue
        if c == '"':
            in_string = True
            i += 1
            continue
        if c == "/" and i + 1 < n and text[i + 1] == "/":
            while i < n and text[i] != "\n":
                out[i] = " "
                i += 1
            continue
        if c == "/" and i + 1 < n and text[i + 1] == "*":
            end = text.find("*/", i + 2)
            if end < 0:
                line, col = line_col(text, i)
                raise PatchError(f"{source}: line {line} column {col}: unterminated /* comment; close it with */")
            for j in range(i, end + 2):
                if out[j] != "\n":
                    out[j] = " "
            i = end + 2
            continue
        if c in "}]" and last_sig >= 0 and out[last_sig] == ",":
            out[last_sig] = " "  # trailing comma before a closing bracket
        if not c.isspace():
            last_sig = i
        i += 1
    return "".join(out)


def line_col(text: str, index: int) -> Tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, col


def parse_settings(data: bytes, source: str) -> Any:
    """Parse appsettings bytes (UTF-8, optional BOM, comments, trailing commas)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PatchError(f"{source}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    cleaned = strip_jsonc(text, source)
    try:
        value = json.loads(cleaned)
    except json.JSONDecodeError as exc:
        raise PatchError(f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    return value


def read_object(data: bytes, source: str) -> Dict[str, Any]:
    value = parse_settings(data, source)
    if not isinstance(value, dict):
        raise PatchError(f"{source}: the top level must be a JSON object {{...}}, found {json_type(value)}")
    return value


def json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "null"
    return "a string"


# --------------------------------------------------------------------------
# Merging
# --------------------------------------------------------------------------

def split_key(key: str) -> List[str]:
    """`A:B:0` and `A__B__0` are both paths; empty segments are not allowed."""
    parts = re.split(r":|__", key)
    if any(p == "" for p in parts):
        raise PatchError(f"key {key!r} has an empty path segment; write paths as A:B:C or A__B__C")
    return parts


def find_key(obj: Dict[str, Any], key: str) -> Optional[str]:
    """Configuration keys are case-insensitive in .NET; return the existing spelling."""
    if key in obj:
        return key
    folded = key.casefold()
    for existing in obj:
        if existing.casefold() == folded:
            return existing
    return None


class Merger:
    """Applies one layer onto a settings tree and remembers typed placeholders."""

    def __init__(self, source: str, dotnet_arrays: bool):
        self.source = source
        # True for the zip's appsettings.<env>.json (.NET merges arrays by index);
        # False for the repo's override files (an array replaces the array).
        self.dotnet_arrays = dotnet_arrays
        self.type_hints: Dict[Tuple[str, ...], type] = {}

    def apply(self, target: Dict[str, Any], layer: Dict[str, Any], path: Tuple[str, ...] = ()) -> None:
        for raw_key, value in layer.items():
            if raw_key == REPLACE_MARKER:
                continue
            segments = split_key(raw_key)
            container: Any = target
            cur_path = path
            for seg in segments[:-1]:
                container, cur_path = self._descend(container, seg, cur_path, raw_key)
            self._set(container, segments[-1], value, cur_path, raw_key)

    def _descend(self, container: Any, seg: str, path: Tuple[str, ...], raw_key: str) -> Tuple[Any, Tuple[str, ...]]:
        if isinstance(container, list):
            idx = self._index(container, seg, path, raw_key, allow_append=True)
            if idx == len(container):
                container.append({})
            if not isinstance(container[idx], (dict, list)):
                raise PatchError(self._not_container(path + (str(idx),), container[idx], raw_key))
            return container[idx], path + (str(idx),)
        existing = find_key(container, seg)
        if existing is None:
            container[seg] = {}
            existing = seg
        child = container[existing]
        if not isinstance(child, (dict, list)):
            raise PatchError(self._not_container(path + (existing,), child, raw_key))
        return child, path + (existing,)

    def _set(self, container: Any, seg: str, value: Any, path: Tuple[str, ...], raw_key: str) -> None:
        if isinstance(container, list):
            idx = self._index(container, seg, path, raw_key, allow_append=True)
            if idx == len(container):
                container.append(None)
            old = container[idx]
            container[idx] = self._merge_value(old, value, path + (str(idx),))
            return
        existing = find_key(container, seg)
        key = existing if existing is not None else seg
        old = container.get(key) if existing is not None else _MISSING
        container[key] = self._merge_value(old, value, path + (key,))

    def _merge_value(self, old: Any, new: Any, path: Tuple[str, ...]) -> Any:
        if isinstance(new, dict):
            if isinstance(old, dict) and new.get(REPLACE_MARKER) is not True:
                self.apply(old, new, path)
                return old
            fresh: Dict[str, Any] = {}
            self.apply(fresh, new, path)
            return fresh
        if isinstance(new, list):
            if self.dotnet_arrays and isinstance(old, list):
                merged = list(old)
                for i, item in enumerate(new):
                    if i < len(merged):
                        merged[i] = self._merge_value(merged[i], item, path + (str(i),))
                    else:
                        merged.append(self._merge_value(_MISSING, item, path + (str(i),)))
                return merged
            return [self._merge_value(_MISSING, item, path + (str(i),)) for i, item in enumerate(new)]
        # A scalar. Keep the old value's type for a whole-value placeholder.
        if isinstance(new, str) and PLACEHOLDER_RE.fullmatch(new) and isinstance(old, (bool, int, float)):
            self.type_hints[path] = type(old)
        return copy.deepcopy(new)

    def _index(self, container: List[Any], seg: str, path: Tuple[str, ...], raw_key: str, allow_append: bool) -> int:
        if not seg.isdigit():
            raise PatchError(
                f"{self.source}: key {raw_key!r}: {':'.join(path) or '(root)'} is an array, so the next path segment "
                f"must be an index 0..{len(container)}, not {seg!r}"
            )
        idx = int(seg)
        limit = len(container) if allow_append else len(container) - 1
        if idx > limit:
            raise PatchError(
                f"{self.source}: key {raw_key!r}: index {idx} is out of range for the array at "
                f"{':'.join(path)} (length {len(container)}); use 0..{len(container)} or replace the whole array"
            )
        return idx

    def _not_container(self, path: Tuple[str, ...], value: Any, raw_key: str) -> str:
        return (
            f"{self.source}: key {raw_key!r} goes inside {':'.join(path)}, but that is {json_type(value)}, "
            f"not an object or array; set {':'.join(path)} itself or fix the path"
        )


_MISSING = object()


def check_no_literal_secrets(layer: Any, source: str, path: Tuple[str, ...] = ()) -> None:
    """Repo override files may hold secrets only as ${ENV:NAME} placeholders."""
    if isinstance(layer, dict):
        for key, value in layer.items():
            segs = tuple(split_key(key)) if key != REPLACE_MARKER else (key,)
            check_no_literal_secrets(value, source, path + segs)
        return
    if isinstance(layer, list):
        for i, item in enumerate(layer):
            check_no_literal_secrets(item, source, path + (str(i),))
        return
    if not isinstance(layer, str) or layer == "":
        return
    dotted = ":".join(path)
    if path and SECRET_KEY_RE.search(path[-1]) and not PLACEHOLDER_RE.search(layer):
        raise PatchError(
            f"{source}: {dotted} looks like a secret but holds a literal value; secrets must not be kept in the "
            f"repository: write \"${{ENV:SOME_NAME}}\" and provide SOME_NAME as an environment variable (Jenkins credential)"
        )
    for m in CONN_SECRET_RE.finditer(layer):
        if m.group(2).strip() and not PLACEHOLDER_RE.search(m.group(2)):
            raise PatchError(
                f"{source}: {dotted} has a literal password in a connection string; write "
                f"Password=${{ENV:SOME_NAME}} and provide SOME_NAME as an environment variable"
            )


def resolve_placeholders(tree: Any, hints: Dict[Tuple[str, ...], type], env: Dict[str, str], missing: List[str],
                         path: Tuple[str, ...] = ()) -> Any:
    if isinstance(tree, dict):
        return {k: resolve_placeholders(v, hints, env, missing, path + (k,)) for k, v in tree.items()}
    if isinstance(tree, list):
        return [resolve_placeholders(v, hints, env, missing, path + (str(i),)) for i, v in enumerate(tree)]
    if not isinstance(tree, str):
        return tree
    def sub(m: "re.Match[str]") -> str:
        name = m.group(1)
        if name not in env:
            missing.append(name)
            return m.group(0)
        return env[name]

    resolved = PLACEHOLDER_RE.sub(sub, tree)
    wanted = hints.get(path)
    if wanted is not None and not PLACEHOLDER_RE.search(resolved):
        return convert(resolved, wanted, path)
    return resolved


def convert(text: str, wanted: type, path: Tuple[str, ...]) -> Any:
    where = ":".join(path)
    if wanted is bool:
        if text.strip().lower() in ("true", "false"):
            return text.strip().lower() == "true"
        raise PatchError(f"{where}: was a boolean; its environment variable must be true or false")
    try:
        return int(text) if wanted is int else float(text)
    except ValueError:
        raise PatchError(f"{where}: was a number; its environment variable must hold a number") from None


# --------------------------------------------------------------------------
# Reporting changes (masked)
# --------------------------------------------------------------------------

def flatten(tree: Any, prefix: str = "") -> Dict[str, Any]:
    """.NET-style flat view: `A:B:0` → scalar (empty containers kept as themselves)."""
    flat: Dict[str, Any] = {}
    if isinstance(tree, dict) and tree:
        for k, v in tree.items():
            flat.update(flatten(v, f"{prefix}:{k}" if prefix else k))
    elif isinstance(tree, list) and tree:
        for i, v in enumerate(tree):
            flat.update(flatten(v, f"{prefix}:{i}" if prefix else str(i)))
    elif prefix:
        flat[prefix] = tree
    return flat


def mask(key: str, value: Any) -> str:
    """Render a value for the console: placeholders are safe to show, literal secrets are not."""
    if isinstance(value, str):
        last = key.split(":")[-1]
        if SECRET_KEY_RE.search(last) and not PLACEHOLDER_RE.fullmatch(value):
            return '"***"'
        shown = CONN_SECRET_RE.sub(lambda m: m.group(1) + ("***" if not PLACEHOLDER_RE.fullmatch(m.group(2).strip()) else m.group(2)), value)
        return json.dumps(shown, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


def describe_changes(before: Dict[str, Any], after: Dict[str, Any]) -> List[str]:
    fb, fa = flatten(before), flatten(after)
    lines = []
    for key in sorted(set(fb) | set(fa), key=str.casefold):
        if key not in fb:
            lines.append(f"+ {key} = {mask(key, fa[key])}")
        elif key not in fa:
            lines.append(f"- {key} (was {mask(key, fb[key])})")
        elif fb[key] != fa[key] or type(fb[key]) is not type(fa[key]):
            lines.append(f"~ {key} = {mask(key, fa[key])} (was {mask(key, fb[key])})")
    return lines


# --------------------------------------------------------------------------
# The zip
# --------------------------------------------------------------------------

def safe_entry_name(name: str) -> str:
    """Refuse absolute paths and `..` (zip-slip); normalise backslashes for matching only."""
    norm = name.replace("\\", "/")
    p = PurePosixPath(norm)
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm) or ".." in p.parts:
        raise PatchError(f"zip entry {name!r} is an absolute path or contains '..'; rebuild the package with relative paths")
    return norm


def plan_targets(names: List[str], env_name: str) -> Dict[str, Optional[str]]:
    """Map each appsettings.json entry to its appsettings.<env>.json sibling (or None)."""
    by_lower = {n.lower(): n for n in names}
    targets: Dict[str, Optional[str]] = {}
    for n in names:
        p = PurePosixPath(n)
        if p.name.lower() == "appsettings.json":
            sibling = str(p.with_name(f"appsettings.{env_name}.json")).lower()
            targets[n] = by_lower.get(sibling)
    return targets


def load_overrides(overrides_dir: Path, env_name: str) -> List[Tuple[str, str, Dict[str, Any]]]:
    """Return (scope, file, content) with scope '' for all apps or the folder name."""
    env_dir = overrides_dir / env_name
    if not overrides_dir.is_dir():
        raise PatchError(f"overrides folder {overrides_dir} does not exist; pass --overrides-dir or create it")
    if not env_dir.is_dir():
        # Look the folder up case-insensitively (the repo may be checked out on Linux).
        matches = [d for d in overrides_dir.iterdir() if d.is_dir() and d.name.lower() == env_name.lower()]
        if not matches:
            known = ", ".join(sorted(d.name for d in overrides_dir.iterdir() if d.is_dir())) or "none"
            raise PatchError(
                f"no override folder for environment {env_name!r} under {overrides_dir} (found: {known}); "
                f"create {env_dir} with an appsettings.json (it may be {{}})"
            )
        env_dir = matches[0]
    files = sorted((f for f in env_dir.iterdir() if f.is_file() and f.suffix.lower() == ".json"), key=lambda f: f.name.lower())
    result = []
    for f in files:
        content = read_object(f.read_bytes(), str(f))
        check_no_literal_secrets(content, str(f))
        scope = "" if f.name.lower() == "appsettings.json" else f.stem
        result.append((scope, str(f), content))
    # Global first, then per-application files.
    result.sort(key=lambda t: (t[0] != "", t[0].lower()))
    return result


def transform(input_path: Path, output_path: Optional[Path], env_name: str, overrides_dir: Path,
              env: Dict[str, str], dry_run: bool, out=sys.stdout) -> int:
    def say(msg: str) -> None:
        print(f"{MARKER} {msg}", file=out)

    if not input_path.is_file():
        raise PatchError(f"input zip {input_path} not found; run the Package stage first or pass the right --input")
    if output_path is not None and output_path.resolve() == input_path.resolve():
        raise PatchError("--output must differ from --input; the input package is kept unchanged")
    if not zipfile.is_zipfile(input_path):
        raise PatchError(f"input {input_path} is not a zip file")

    overrides = load_overrides(overrides_dir, env_name)

    with zipfile.ZipFile(input_path) as zin:
        infos = zin.infolist()
        seen = set()
        for info in infos:
            norm = safe_entry_name(info.filename).lower()
            if norm in seen:
                raise PatchError(f"zip entry {info.filename!r} appears twice; rebuild the package")
            seen.add(norm)
        # Windows PowerShell 5.1 tools can write '\\' separators; the output always uses '/'.
        by_name = {safe_entry_name(i.filename): i for i in infos}
        names = [n for n in by_name if not n.endswith("/")]
        targets = plan_targets(names, env_name)
        if not targets:
            raise PatchError(f"{input_path} contains no appsettings.json; is this the WeSign package?")

        folders = {PurePosixPath(t).parent.name.lower() for t in targets}
        for scope, fname, _ in overrides:
            if scope and scope.lower() not in folders:
                known = ", ".join(sorted(PurePosixPath(t).parent.name or "(root)" for t in targets))
                raise PatchError(
                    f"override file {fname} is for folder {scope!r}, but no appsettings.json in the zip is in such a "
                    f"folder (found: {known}); rename the file after one of them or use appsettings.json for all"
                )

        merged_entries: Dict[str, bytes] = {}
        dropped: set = set()
        missing: List[str] = []
        for target in sorted(targets):
            env_entry = targets[target]
            base = read_object(zin.read(by_name[target]), f"{input_path}!{target}")
            before = copy.deepcopy(base)
            hints: Dict[Tuple[str, ...], type] = {}
            if env_entry is not None:
                layer = read_object(zin.read(by_name[env_entry]), f"{input_path}!{env_entry}")
                m = Merger(f"{input_path}!{env_entry}", dotnet_arrays=True)
                m.apply(base, layer)
                hints.update(m.type_hints)
                dropped.add(env_entry)
            folder = PurePosixPath(target).parent.name.lower()
            for scope, fname, content in overrides:
                if scope == "" or scope.lower() == folder:
                    m = Merger(fname, dotnet_arrays=False)
                    m.apply(base, copy.deepcopy(content))
                    hints.update(m.type_hints)
            changes = describe_changes(before, base)
            layers = ([env_entry] if env_entry else []) + [f for s, f, _ in overrides if s == "" or s.lower() == folder]
            say(f"{target}: {len(changes)} key(s) changed from {', '.join(layers) or 'no layers'}")
            for line in changes:
                say(f"  {line}")
            resolved = resolve_placeholders(base, hints, env, missing)
            merged_entries[target] = (json.dumps(resolved, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

        if missing:
            names = sorted(set(missing))
            raise PatchError(
                f"unresolved placeholder(s): environment variable(s) {', '.join(names)} not set; bind them from "
                f"Jenkins credentials (see docs/jenkins.md) or set them in the shell, then run again"
            )
        if dropped:
            say(f"folded into appsettings.json and left out of the output: {', '.join(sorted(dropped))}")
        if dry_run:
            say("dry run: no output written")
            return 0
        assert output_path is not None
        write_zip(zin, by_name, merged_entries, dropped, output_path)
    say(f"wrote {output_path} ({len(merged_entries)} appsettings.json merged for {env_name})")
    return 0


def write_zip(zin: zipfile.ZipFile, by_name: Dict[str, zipfile.ZipInfo], merged: Dict[str, bytes], dropped: set,
              output_path: Path) -> None:
    """Write atomically (temp file + rename) so a failure never leaves a half zip behind."""
    output_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".appsettings_patch-", suffix=".zip", dir=str(output_path.parent))
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as zout:
            for name in sorted(by_name):
                info = by_name[name]
                if name in dropped:
                    continue
                out = zipfile.ZipInfo(name, date_time=info.date_time)
                out.external_attr = info.external_attr
                out.create_system = info.create_system
                if name.endswith("/"):
                    zout.writestr(out, b"")
                    continue
                out.compress_type = zipfile.ZIP_DEFLATED
                if name in merged:
                    zout.writestr(out, merged[name], compress_type=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
                    continue
                out.file_size = info.file_size
                with zin.open(info) as src, zout.open(out, "w", force_zip64=info.file_size > 0x7FFFFFFF) as dst:
                    while True:
                        chunk = src.read(1 << 20)
                        if not chunk:
                            break
                        dst.write(chunk)
        os.replace(tmp, output_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="py scripts/appsettings_patch.py",
        description="Merge appsettings.<env>.json and config/overrides/<env>/*.json into each appsettings.json of a package zip.",
        epilog=r"Example: py scripts/appsettings_patch.py --env DevTest --input artifact\WeSign.zip --output artifact\WeSign.DevTest.zip",
    )
    parser.add_argument("--env", required=True, help="environment name, e.g. DevTest (ENV_NAME)")
    parser.add_argument("--input", required=True, type=Path, help=r"package zip, e.g. artifact\WeSign.zip")
    parser.add_argument("--output", type=Path, help=r"output zip, e.g. artifact\WeSign.DevTest.zip (required unless --dry-run)")
    parser.add_argument("--overrides-dir", type=Path, default=DEFAULT_OVERRIDES_DIR,
                        help="folder holding <env>/*.json override files (default: config/overrides in this repository)")
    parser.add_argument("--dry-run", action="store_true", help="print the keys that would change (secrets masked); write nothing")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,63}", args.env):
        parser.error(f"--env {args.env!r} is not an environment name; use letters, digits, '-' or '_' (e.g. DevTest)")
    if args.output is None and not args.dry_run:
        parser.error("--output is required unless --dry-run is given")
    try:
        return transform(args.input, args.output, args.env, args.overrides_dir, dict(os.environ), args.dry_run)
    except PatchError as exc:
        print(f"{MARKER} ERROR: {exc}", file=sys.stderr)
        print(f"{MARKER} no output written", file=sys.stderr)
        return 2
    except zipfile.BadZipFile as exc:
        print(f"{MARKER} ERROR: {args.input}: damaged zip ({exc}); rebuild the package", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
