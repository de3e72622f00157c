import os
import shutil
import subprocess

import pytest

from leango.builder.elf import check_static, read_elf
from leango.builder.errors import NotStaticError
from support.paths import FIXTURES


def test_go_toolchain_binary_is_static(static_binary):
    info = check_static(static_binary, 62)
    assert info.is_static and info.interpreter == "" and info.needed == ()


def test_system_binary_is_dynamic():
    info = read_elf("/bin/true")
    assert info.interpreter.startswith("/lib") and "libc.so.6" in info.needed
    with pytest.raises(NotStaticError) as err:
        check_static("/bin/true", info.machine)
    message = str(err.value)
    assert "dynamically linked" in message and "libc.so.6" in message
    assert "CGO_ENABLED=0" in message and "netgo,osusergo" in message


def test_wrong_machine(static_binary):
    with pytest.raises(NotStaticError, match="expected AArch64"):
        check_static(static_binary, 183)


def test_not_elf(tmp_path):
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(NotStaticError, match="not an ELF"):
        check_static(script, 62)


def test_truncated_elf(tmp_path, static_binary):
    broken = tmp_path / "broken"
    broken.write_bytes(static_binary.read_bytes()[:40])
    with pytest.raises(NotStaticError):
        check_static(broken, 62)


def test_cgo_go_binary_is_dynamic(tmp_path, goroot):
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the cgo fixture on the host: apt-get install gcc", pytrace=False)
    env = dict(os.environ, CGO_ENABLED="1", GOROOT=str(goroot), GOCACHE=str(tmp_path / "cache"),
               GOTOOLCHAIN="local", GOFLAGS="", GOPROXY="off")
    out = tmp_path / "cgo-hello"
    subprocess.run([str(goroot / "bin" / "go"), "build", "-o", str(out), "."], check=True,
                   cwd=FIXTURES / "cgo-hello", env=env, capture_output=True)
    with pytest.raises(NotStaticError, match="libc.so.6"):
        check_static(out, 62)
