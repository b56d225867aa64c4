"""scripts/appsettings_patch.py on real zips and real JSON files (comments, BOM, arrays, nested paths)."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import appsettings_patch as ap  # noqa: E402

FAKE_PASSWORD = "fake-example-Pa55word"
ENV = {"WESIGN_DB_USER": "fake_user", "WESIGN_DB_PASSWORD": FAKE_PASSWORD}

BASE_USERAPI = """\ufeff{
  // UserApi settings as the WeSign build ships them: comments, trailing commas and a BOM are all legal here.
  "Logging": { "LogLevel": { "Default": "Debug", "Microsoft": "Warning", }, },
  /* block comment */
  "Port": 5000,
  "RequireHttps": true,
  "Cors": { "AllowedOrigins": ["https://a.example", "https://b.example", "https://c.example"] },
  "Smtp": { "Host": "smtp.example", "Port": 25, "Options": { "Ssl": false, "Retries": 3 } },
  "Servers": [ { "Name": "one", "Weight": 1 }, { "Name": "two", "Weight": 2 } ],
  "Url": "http://example/with//slashes/*not-a-comment*/",
  "NLog": { "Layout": "${longdate} ${message}" },
}
"""

ENV_USERAPI = """{
  // appsettings.DevTest.json from the package: .NET layers arrays element by element.
  "Logging": { "LogLevel": { "Default": "Trace" } },
  "Cors": { "AllowedOrigins": ["https://devtest.example"] },
  "Servers": [ { "Weight": 10 } ],
}
"""


def make_zip(path: Path, entries: dict) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data.encode("utf-8") if isinstance(data, str) else data)
    return path


def write_overrides(root: Path, files: dict, env: str = "DevTest") -> Path:
    env_dir = root / env
    env_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (env_dir / name).write_text(text, encoding="utf-8")
    return root


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_entry(zip_path: Path, name: str) -> dict:
    with zipfile.ZipFile(zip_path) as z:
        return json.loads(z.read(name).decode("utf-8"))


def run(input_zip: Path, output: Path, overrides: Path, env=None, dry_run=False, env_name="DevTest"):
    out = io.StringIO()
    code = ap.transform(input_zip, output, env_name, overrides, ENV if env is None else env, dry_run, out=out)
    return code, out.getvalue()


@pytest.fixture
def package(tmp_path: Path) -> Path:
    return make_zip(tmp_path / "WeSign.zip", {
        "UserApi/appsettings.json": BASE_USERAPI,
        "UserApi/appsettings.DevTest.json": ENV_USERAPI,
        "UserApi/appsettings.Production.json": '{"Logging": {"LogLevel": {"Default": "Error"}}}',
        "UserApi/UserApi.dll": b"MZ\x90\x00fake-binary" * 100,
        "SignerApi/appsettings.json": '{"Signer": {"Timeout": 30}}',
        "SignerApi/wwwroot/index.html": "<html>signer</html>",
    })


@pytest.fixture
def overrides(tmp_path: Path) -> Path:
    return write_overrides(tmp_path / "overrides", {
        "appsettings.json": """{
          // for every application
          "Logging:LogLevel:Default": "Information",
          "ConnectionStrings__Default": "Server=db;User Id=${ENV:WESIGN_DB_USER};Password=${ENV:WESIGN_DB_PASSWORD}",
        }""",
        "UserApi.json": """{
          "Cors": { "AllowedOrigins": ["http://DevTest"] },
          "Servers:1:Name": "second",
          "Smtp": { "$replace": true, "Host": "smtp.devtest.example" },
          "port": "${ENV:WESIGN_PORT}",
          "requirehttps": false,
        }""",
    })


def test_merges_env_file_then_overrides_into_each_appsettings(package, overrides, tmp_path):
    out = tmp_path / "out" / "WeSign.DevTest.zip"
    code, _ = run(package, out, overrides, env={**ENV, "WESIGN_PORT": "8081"})
    assert code == 0
    user = read_entry(out, "UserApi/appsettings.json")
    # env file over base, then the global override, then the UserApi override
    assert user["Logging"]["LogLevel"] == {"Default": "Information", "Microsoft": "Warning"}
    # override arrays replace whole (the package's three origins and the env file's one are gone)
    assert user["Cors"]["AllowedOrigins"] == ["http://DevTest"]
    # env-file arrays merge by index as .NET does; an override index path changes one element
    assert user["Servers"] == [{"Name": "one", "Weight": 10}, {"Name": "second", "Weight": 2}]
    # $replace replaces the object whole
    assert user["Smtp"] == {"Host": "smtp.devtest.example"}
    # keys match case-insensitively and keep the package's spelling; types are kept
    assert user["Port"] == 8081 and "port" not in user
    assert user["RequireHttps"] is False and "requirehttps" not in user
    assert user["ConnectionStrings"]["Default"] == f"Server=db;User Id=fake_user;Password={FAKE_PASSWORD}"
    # strings that only look like comments, and NLog layouts, are untouched
    assert user["Url"] == "http://example/with//slashes/*not-a-comment*/"
    assert user["NLog"]["Layout"] == "${longdate} ${message}"
    signer = read_entry(out, "SignerApi/appsettings.json")
    assert signer["Signer"] == {"Timeout": 30}
    assert signer["Logging"]["LogLevel"]["Default"] == "Information"
    assert "Cors" not in signer  # UserApi.json applies to UserApi only


def test_env_file_is_folded_in_and_other_entries_are_kept_byte_for_byte(package, overrides, tmp_path):
    out = tmp_path / "WeSign.DevTest.zip"
    run(package, out, overrides, env={**ENV, "WESIGN_PORT": "1"})
    with zipfile.ZipFile(package) as zin, zipfile.ZipFile(out) as zout:
        names = zout.namelist()
        assert "UserApi/appsettings.DevTest.json" not in names
        assert "UserApi/appsettings.Production.json" in names
        assert names == sorted(names)
        for name in ("UserApi/UserApi.dll", "SignerApi/wwwroot/index.html", "UserApi/appsettings.Production.json"):
            assert zout.read(name) == zin.read(name)
            assert zout.getinfo(name).date_time == zin.getinfo(name).date_time
        assert zout.testzip() is None


def test_output_is_plain_utf8_json_without_bom(package, overrides, tmp_path):
    out = tmp_path / "o.zip"
    run(package, out, overrides, env={**ENV, "WESIGN_PORT": "1"})
    with zipfile.ZipFile(out) as z:
        raw = z.read("UserApi/appsettings.json")
    assert not raw.startswith(b"\xef\xbb\xbf")
    json.loads(raw.decode("utf-8"))


def test_second_run_gives_a_byte_identical_zip(package, overrides, tmp_path):
    first, second = tmp_path / "a" / "x.zip", tmp_path / "b" / "x.zip"
    env = {**ENV, "WESIGN_PORT": "8081"}
    run(package, first, overrides, env=env)
    run(package, second, overrides, env=env)
    assert sha256(first) == sha256(second)
    # and overwriting the first output in place changes nothing either
    before = sha256(first)
    run(package, first, overrides, env=env)
    assert sha256(first) == before


def test_dry_run_lists_changed_keys_masks_secrets_and_writes_nothing(package, tmp_path):
    overrides = write_overrides(tmp_path / "ov", {"appsettings.json": """{
        "Logging:LogLevel:Default": "Information",
        "Jwt": { "SigningKey": "${ENV:WESIGN_JWT_KEY}" },
        "ConnectionStrings:Default": "Server=db;Password=${ENV:WESIGN_DB_PASSWORD}"
    }"""})
    base_with_secret = make_zip(tmp_path / "p.zip", {
        "appsettings.json": '{"Jwt": {"SigningKey": "fake-example-old-key"}, "ConnectionStrings": {"Default": "Server=x;Password=fake-example-old"}}',
    })
    out = tmp_path / "never.zip"
    code, text = run(base_with_secret, out, overrides, env={**ENV, "WESIGN_JWT_KEY": "fake-example-new-key"}, dry_run=True)
    assert code == 0
    assert not out.exists()
    assert "dry run: no output written" in text
    assert "~ Jwt:SigningKey" in text and "+ Logging:LogLevel:Default" in text
    for secret in ("fake-example-old-key", "fake-example-old", "fake-example-new-key", FAKE_PASSWORD):
        assert secret not in text
    assert "${ENV:WESIGN_DB_PASSWORD}" in text  # placeholders are safe to show
    assert all(line.startswith("[config] ") for line in text.splitlines())


def test_real_run_never_prints_resolved_secrets(package, overrides, tmp_path):
    _, text = run(package, tmp_path / "o.zip", overrides, env={**ENV, "WESIGN_PORT": "1"})
    assert FAKE_PASSWORD not in text and "fake_user" not in text


def test_typed_placeholder_refuses_a_non_number(package, overrides, tmp_path):
    out = tmp_path / "o.zip"
    with pytest.raises(ap.PatchError, match="Port: was a number"):
        run(package, out, overrides, env={**ENV, "WESIGN_PORT": "eighty"})
    assert not out.exists()


def test_backslash_entry_names_from_windows_powershell_are_normalised(tmp_path):
    package = make_zip(tmp_path / "p.zip", {"UserApi\\appsettings.json": '{"A": 1}', "UserApi\\x.dll": b"bin"})
    overrides = write_overrides(tmp_path / "ov", {"UserApi.json": '{"A": 2}'})
    out = tmp_path / "o.zip"
    assert run(package, out, overrides)[0] == 0
    with zipfile.ZipFile(out) as z:
        assert sorted(z.namelist()) == ["UserApi/appsettings.json", "UserApi/x.dll"]
    assert read_entry(out, "UserApi/appsettings.json") == {"A": 2}


def test_repository_devtest_overrides_are_valid_and_hold_only_placeholders():
    loaded = ap.load_overrides(REPO / "config" / "overrides", "DevTest")
    assert loaded, "config/overrides/DevTest has no override files"
    text = (REPO / "config" / "overrides" / "DevTest" / "appsettings.json").read_text(encoding="utf-8")
    assert "${ENV:WESIGN_DB_PASSWORD}" in text


# ------------------------------------------------------------------ error paths: clear message, no output


def expect_error(package, overrides, tmp_path, match, env=None):
    out = tmp_path / "out" / "WeSign.DevTest.zip"
    with pytest.raises(ap.PatchError, match=match):
        run(package, out, overrides, env=env)
    assert not out.exists()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_missing_input_zip(tmp_path, overrides):
    expect_error(tmp_path / "nope.zip", overrides, tmp_path, "input zip .*nope.zip not found")


def test_input_that_is_not_a_zip(tmp_path, overrides):
    bad = tmp_path / "bad.zip"
    bad.write_text("not a zip")
    expect_error(bad, overrides, tmp_path, "is not a zip file")


def test_bad_json_in_the_package_reports_line_and_column(tmp_path, overrides):
    package = make_zip(tmp_path / "p.zip", {"UserApi/appsettings.json": '{\n  "A": 1,\n  "B": tru\n}'})
    expect_error(package, overrides, tmp_path, r"UserApi/appsettings.json: invalid JSON at line 3 column 8")


def test_bad_json_in_an_override_reports_file_line_and_column(package, tmp_path):
    overrides = write_overrides(tmp_path / "ov", {"appsettings.json": '// comment line\n{\n  "A": 1\n  "B": 2\n}'})
    expect_error(package, overrides, tmp_path, r"appsettings.json: invalid JSON at line 4 column 3")


def test_unterminated_block_comment(package, tmp_path):
    overrides = write_overrides(tmp_path / "ov", {"appsettings.json": '{\n /* never closed\n "A": 1 }'})
    expect_error(package, overrides, tmp_path, r"line 2 column 2: unterminated /\* comment")


def test_unresolved_placeholder_names_the_variable(package, overrides, tmp_path):
    expect_error(package, overrides, tmp_path, "WESIGN_DB_PASSWORD, WESIGN_DB_USER, WESIGN_PORT not set", env={})


def test_unresolved_placeholder_fails_a_dry_run_too(package, overrides, tmp_path):
    with pytest.raises(ap.PatchError, match="not set"):
        run(package, tmp_path / "o.zip", overrides, env={}, dry_run=True)


def test_literal_secret_in_an_override_is_refused(package, tmp_path):
    overrides = write_overrides(tmp_path / "ov", {"appsettings.json": '{"Smtp": {"Password": "fake-example-literal"}}'})
    expect_error(package, overrides, tmp_path, r"Smtp:Password looks like a secret but holds a literal value")


def test_literal_password_in_a_connection_string_is_refused(package, tmp_path):
    overrides = write_overrides(tmp_path / "ov", {"appsettings.json": '{"ConnectionStrings:Db": "Server=x;Password=fake-example"}'})
    expect_error(package, overrides, tmp_path, r"literal password in a connection string")


def test_zip_slip_entry_is_refused(tmp_path, overrides):
    package = make_zip(tmp_path / "p.zip", {"appsettings.json": "{}", "../evil.dll": b"x"})
    expect_error(package, overrides, tmp_path, r"'\.\./evil\.dll' is an absolute path or contains '\.\.'")


def test_package_without_appsettings(tmp_path, overrides):
    package = make_zip(tmp_path / "p.zip", {"readme.txt": "hello"})
    expect_error(package, overrides, tmp_path, "contains no appsettings.json")


def test_override_for_a_folder_the_package_does_not_have(package, tmp_path):
    overrides = write_overrides(tmp_path / "ov", {"PdfConvertor.json": '{"A": 1}'})
    expect_error(package, overrides, tmp_path, r"is for folder 'PdfConvertor'.*found: SignerApi, UserApi")


def test_missing_environment_folder(package, tmp_path):
    overrides = write_overrides(tmp_path / "ov", {"appsettings.json": "{}"}, env="Staging")
    expect_error(package, overrides, tmp_path, r"no override folder for environment 'DevTest'.*found: Staging")


def test_index_out_of_range(package, tmp_path):
    overrides = write_overrides(tmp_path / "ov", {"UserApi.json": '{"Servers:5:Name": "x"}'})
    expect_error(package, overrides, tmp_path, r"index 5 is out of range for the array at Servers \(length 2\)")


def test_path_through_a_scalar(package, tmp_path):
    overrides = write_overrides(tmp_path / "ov", {"UserApi.json": '{"Port:Inner": 1}'})
    expect_error(package, overrides, tmp_path, r"goes inside Port, but that is a number")


def test_output_equal_to_input_is_refused(package, overrides):
    with pytest.raises(ap.PatchError, match="--output must differ from --input"):
        run(package, package, overrides)


def test_cli_exit_code_and_message_and_no_output(tmp_path, overrides):
    out = tmp_path / "o.zip"
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "appsettings_patch.py"), "--env", "DevTest",
         "--input", str(tmp_path / "missing.zip"), "--output", str(out), "--overrides-dir", str(overrides)],
        capture_output=True, text=True)
    assert proc.returncode == 2
    assert "[config] ERROR: input zip" in proc.stderr and "no output written" in proc.stderr
    assert not out.exists()


def test_cli_happy_path_with_environment_variables(package, overrides, tmp_path):
    out = tmp_path / "WeSign.DevTest.zip"
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "appsettings_patch.py"), "--env", "DevTest",
         "--input", str(package), "--output", str(out), "--overrides-dir", str(overrides)],
        capture_output=True, text=True, env={**ENV, "WESIGN_PORT": "8081", "PATH": ""})
    assert proc.returncode == 0, proc.stderr
    assert out.exists() and FAKE_PASSWORD not in proc.stdout


def test_cli_help_says_py():
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "appsettings_patch.py"), "--help"],
                          capture_output=True, text=True)
    assert proc.returncode == 0
    assert "py scripts/appsettings_patch.py" in proc.stdout
    assert "python " not in proc.stdout
