"""The working container is removed on success, failure, SIGINT and SIGTERM."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from leango.builder import BuildSpec, NotStaticError, Outputs, SubprocessRunner, build
from leango.builder import cli as cli_module
from leango.builder.platform import host_platform
from support.cli import buildah_state, compiled_binary, leango_argv, leango_containers
from support.paths import FIXTURES


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def _go_compiling(root: int) -> bool:
    """A Go compiler, assembler or linker runs among root's descendants."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv0 = cmdline.read_bytes().split(b"\0", 1)[0]
        except OSError:  # the process ended
            continue
        if argv0.endswith((b"/compile", b"/link", b"/asm")):
            pid = int(cmdline.parent.name)
            while pid > 1:
                pid = _parent(pid)
                if pid == root:
                    return True
    return False


def _default_sigint() -> None:
    # A shell starts background jobs with SIGINT ignored, and an ignored signal stays ignored
    # across exec: give leango the disposition a terminal's foreground command has.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig,group", [(signal.SIGTERM, False), (signal.SIGINT, True)])
def test_signal_removes_the_container(sig, group, tmp_path):
    before = buildah_state(tmp_path / "cold")
    env = dict(os.environ)
    # A cold Go cache makes the compile take seconds: time enough to interrupt it.
    proc = subprocess.Popen(
        [*leango_argv(), "build", str(FIXTURES / "https-get"), "--cache-dir",
         str(tmp_path / "cold"), "--oci-layout", str(tmp_path / "l")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=_default_sigint)
    deadline = time.monotonic() + 60
    while not leango_containers(tmp_path / "cold"):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no working container appeared"
        time.sleep(0.05)
    # Interrupt while Go compiles: wait for its compiler process (chroot isolation shares our
    # pid namespace), so the signal lands mid-compile rather than after a guessed delay.
    while not _go_compiling(proc.pid):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the compiler never started"
        time.sleep(0.05)
    if group:
        os.killpg(proc.pid, sig)  # what a terminal's Ctrl-C does
    else:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert buildah_state(tmp_path / "cold") == before
    assert not (tmp_path / "l").exists()


_HELD_BUILDAH = """#!/bin/sh
# buildah, held once at `from` after the container exists but before buildah reports it;
# the test sends its signal while it is held, then releases it.
real={real}; here=$(dirname "$0")
if [ "$1" != from ] || [ -e "$here/held" ]; then exec "$real" "$@"; fi
out=$("$real" "$@") || exit $?
touch "$here/held"; while [ ! -e "$here/release" ]; do sleep 0.02; done
echo "$out"
"""


def test_ctrl_c_while_the_container_is_made_leaves_none(tmp_path):
    """A terminal's Ctrl-C reaches every process in leango's group: here it lands between the
    creation of the working container and buildah reporting it."""
    before = buildah_state(tmp_path / "cold")
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "buildah").write_text(_HELD_BUILDAH.format(real=shutil.which("buildah")))
    (shim / "buildah").chmod(0o755)
    env = {**os.environ, "PATH": f"{shim}:{os.environ['PATH']}"}
    proc = subprocess.Popen(
        [*leango_argv(), "build", str(FIXTURES / "https-get"), "--cache-dir", str(tmp_path / "cold"),
         "--oci-layout", str(tmp_path / "l")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=_default_sigint)
    deadline = time.monotonic() + 60
    while not (shim / "held").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "buildah from was never reached"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    (shim / "release").touch()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert buildah_state(tmp_path / "cold") == before
    assert not (tmp_path / "l").exists()


class SwapBinaryRunner(SubprocessRunner):
    """Runs the real build, then replaces the compiled binary with a dynamic one.

    The only way to get a dynamic binary out of a CGO_ENABLED=0 toolchain in a
    scratch container; it exercises the real static check on a real ELF file.
    """

    def run(self, argv, **kw):
        result = super().run(argv, **kw)
        if (host := compiled_binary(argv)) is not None:
            shutil.copy("/bin/true", host)
        return result


def test_dynamic_binary_is_refused(tmp_path):
    spec = BuildSpec(sources=(str(FIXTURES / "hello-world"),), cache_dir=tmp_path / "c",
                     platforms=(host_platform(),), outputs=Outputs(oci_layout=tmp_path / "l"))
    before = buildah_state(tmp_path / "c")
    with pytest.raises(NotStaticError) as err:
        build(spec, SwapBinaryRunner())
    assert "libc.so.6" in str(err.value) and "CGO_ENABLED=0" in str(err.value)
    assert not (tmp_path / "l").exists()
    assert buildah_state(tmp_path / "c") == before


def test_dynamic_binary_cli_message(tmp_path, monkeypatch):
    monkeypatch.setattr(cli_module, "SubprocessRunner", SwapBinaryRunner)
    result = CliRunner().invoke(cli_module.main, [
        "build", str(FIXTURES / "hello-world"), "-q", "--cache-dir", str(tmp_path / "c"),
        "--oci-layout", str(tmp_path / "l")])
    assert result.exit_code == 1
    assert "is dynamically linked: it needs interpreter /lib" in result.output
    assert "libc.so.6" in result.output and "netgo,osusergo" in result.output
