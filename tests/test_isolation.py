"""Where the go commands run: buildah's failures read as their cause, the job-container guess,
and isolation none's translation of container paths (the real runs are in tests/e2e)."""

from __future__ import annotations

from pathlib import Path

import pytest

from leango.builder.buildah import Mount, Storage, first_cause
from leango.builder.errors import BuildahError, SpecError
from leango.builder.isolation import HostSession, IsolationError, diagnose, in_container
from leango.builder.runner import Result

# What buildah 1.28 printed in a job container (podman run of the CI image), verbatim.
SECCOMP = ('Error during unshare(CLONE_NEWUSER): Function not implemented\n'
           'time="2026-12-02T17:38:18Z" level=error msg="parsing PID \\"\\": strconv.Atoi: parsing \\"\\": '
           'invalid syntax"\n'
           'time="2026-12-02T17:38:18Z" level=error msg="(Unable to determine exit status)"\n')
SETUID_HELPERS = (
    'time="2026-12-02T17:38:34Z" level=warning msg="running newgidmap: exit status 1: newgidmap: write to '
    'gid_map failed: Operation not permitted\\n"\n'
    'time="2026-12-02T17:38:34Z" level=warning msg="/usr/bin/newgidmap should be setgid or have filecaps setgid"\n'
    'time="2026-12-02T17:38:34Z" level=warning msg="Falling back to single mapping"\n'
    'error setting supplemental groups list: operation not permittedsubprocess exited with status 1\n'
    'Error: exit status 1\n')
NO_SUBIDS = ('time="2026-12-02T17:38:35Z" level=warning msg="Found no UID ranges set aside for user \\"ci\\" in '
             '/etc/subuid."\n' + SETUID_HELPERS.splitlines()[-2] + "\n")
OVERLAY = ('time="2026-12-02T17:38:13Z" level=warning msg="failed to shutdown storage: \\"\'overlay\' is not '
           'supported over overlayfs, a mount_program is required: backing file system is unsupported for this '
           'graph driver\\""\n')
COMPILE_ERROR = "# example.com/app\n./main.go:3:2: undefined: fmt.Printn\nsubprocess exited with status 1\n"


@pytest.mark.parametrize("stderr,cause", [
    (SECCOMP, "unshare(CLONE_NEWUSER) is denied"),
    (SETUID_HELPERS, "newuidmap/newgidmap are denied"),
    (NO_SUBIDS, "no subordinate ids"),
    (OVERLAY, "overlay mounts"),
    ("Error: mount /proc to /proc: operation not permitted\n", "mounts are denied"),
])
def test_an_infrastructure_failure_names_its_cause_and_the_fix(stderr, cause):
    failure = diagnose(stderr)
    assert isinstance(failure, IsolationError) and isinstance(failure, BuildahError)
    assert cause in failure.cause
    assert failure.hint and "\n" not in str(failure)


@pytest.mark.parametrize("stderr", [
    COMPILE_ERROR,
    # The helpers' warnings alone (buildah fell back to a single mapping, and the command ran): the
    # failure is the compiler's.
    "\n".join(SETUID_HELPERS.splitlines()[:3]) + "\n" + COMPILE_ERROR,
    "go: example.com/m@v1.0.0: reading https://proxy/example.com/m/@v/v1.0.0.mod: 403 Forbidden\n",
    "",
])
def test_a_failure_of_the_command_itself_is_not_an_infrastructure_failure(stderr):
    assert diagnose(stderr) is None


def test_first_cause_skips_buildahs_closing_lines_and_logrus_decoration():
    assert first_cause(SECCOMP) == "Error during unshare(CLONE_NEWUSER): Function not implemented"
    assert first_cause('time="x" level=error msg="creating container: no space left on device"\n'
                       'time="x" level=error msg="(Unable to determine exit status)"\n') == \
        "creating container: no space left on device"
    assert first_cause("") == "(no output)"
    assert first_cause("just one line\n") == "just one line"


@pytest.mark.parametrize("stderr,raises", [
    ('time="x" level=error msg="creating runtime: no space left on device"\n', True),
    ('time="x" level=warning msg="Falling back to single mapping"\n' + COMPILE_ERROR, False),
    (COMPILE_ERROR, False),
])
def test_buildahs_own_errors_are_the_machines_fault(stderr, raises):
    from leango.builder.buildah import BuildahSession
    runner = _Recorder(stderr=stderr)
    runner.code = 1
    session = BuildahSession(runner, Storage(Path("/x/root"), Path("/x/run")))
    session.container = "ctr"
    if raises:
        with pytest.raises(BuildahError, match="buildah run failed: creating runtime: no space left on device"):
            session.run(["/usr/local/go/bin/go", "version"])
    else:
        assert session.run(["/usr/local/go/bin/go", "version"]).returncode == 1


def test_in_container_reads_the_markers_docker_podman_and_kubernetes_leave(tmp_path):
    assert in_container({}, tmp_path) == ""
    assert in_container({"KUBERNETES_SERVICE_HOST": ""}, tmp_path) == ""
    assert in_container({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, tmp_path) == "KUBERNETES_SERVICE_HOST is set"
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".containerenv").touch()
    assert in_container({}, tmp_path) == "/run/.containerenv exists"
    (tmp_path / ".dockerenv").touch()
    assert in_container({}, tmp_path) == "/.dockerenv exists"


def test_only_auto_inside_a_container_falls_back_to_none(tmp_path):
    from leango.builder.isolation import fallback_reason
    k8s = {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    assert fallback_reason("auto", {}, tmp_path) == ""  # a VM runner: fail, naming the cause
    assert fallback_reason("auto", k8s, tmp_path) == "KUBERNETES_SERVICE_HOST is set"
    assert fallback_reason("chroot", k8s, tmp_path) == ""  # named explicitly: never replaced
    (tmp_path / ".dockerenv").touch()
    assert fallback_reason("auto", {}, tmp_path) == "/.dockerenv exists"
    assert fallback_reason("chroot", {}, tmp_path) == ""


def test_storage_flags_follow_the_subcommand(tmp_path):
    storage = Storage.under(tmp_path)
    assert storage.argv("from", "scratch") == [
        "buildah", "from", "--root", str(tmp_path / "containers" / "storage"), "--runroot",
        str(tmp_path / "containers" / "run"), "--storage-driver", "vfs", "scratch"]


class _Recorder:
    def __init__(self, stdout: str = "", stderr: str = ""):
        self.calls: list[tuple[list[str], dict[str, str], str | None]] = []
        self.stdout, self.stderr = stdout, stderr
        self.code = 0

    def run(self, argv, *, env=None, cwd=None, timeout=None, own_session=False):
        self.calls.append((list(argv), dict(env or {}), cwd))
        return Result(tuple(argv), self.code, self.stdout, self.stderr)


def test_isolation_none_runs_where_the_mounts_come_from(tmp_path):
    src, goroot, out = tmp_path / "module", tmp_path / "go", tmp_path / "out"
    runner = _Recorder(stdout=f'{{"Dir": "{src}/cmd/app"}}\n', stderr=f"{goroot}/src/fmt: note\n")
    session = HostSession(runner, tmp_path / "root")
    mounts = [Mount(str(goroot), "/usr/local/go"), Mount(str(src), "/src"), Mount(str(out), "/out", False)]
    res = session.run(["/usr/local/go/bin/go", "build", "-o", "/out/app", "example.com/app", "./cmd/..."],
                      mounts=mounts, env={"PATH": "/usr/local/go/bin", "GOROOT": "/usr/local/go",
                                          "GOPATH": "/cache/gopath", "GOFLAGS": "-mod=mod", "GOOS": "linux"},
                      workdir="/src")
    argv, env, cwd = runner.calls[0]
    assert argv == [f"{goroot}/bin/go", "build", "-o", f"{out}/app", "example.com/app", "./cmd/..."]
    assert env == {"PATH": f"{goroot}/bin", "GOROOT": str(goroot), "GOPATH": f"{tmp_path}/root/cache/gopath",
                   "GOFLAGS": "-mod=mod", "GOOS": "linux"}
    assert cwd == str(src)
    # Output names container paths again, as the go steps expect (and show) them.
    assert res.stdout == '{"Dir": "/src/cmd/app"}\n' and res.stderr == "/usr/local/go/src/fmt: note\n"


def test_isolation_none_matches_whole_path_elements(tmp_path):
    runner = _Recorder()
    HostSession(runner, tmp_path / "root").run(["/srcfoo/x", "/src", "/src/x"], mounts=[Mount("/host/m", "/src")])
    assert runner.calls[0][0] == [f"{tmp_path}/root/srcfoo/x", "/host/m", "/host/m/x"]


@pytest.mark.parametrize("isolation,ok", [("auto", True), ("chroot", True), ("none", True), ("oci", False),
                                          ("", False)])
def test_spec_takes_the_three_isolations(tmp_path, isolation, ok):
    from leango.builder.platform import host_platform
    from leango.builder.spec import BuildSpec
    make = lambda: BuildSpec(sources=(".",), cache_dir=tmp_path, platforms=(host_platform(),),
                             isolation=isolation)
    if ok:
        assert make().isolation == isolation
    else:
        with pytest.raises(SpecError, match="unknown isolation"):
            make()


def test_storage_paths_are_the_cache_dirs(tmp_path):
    assert Storage.under(tmp_path) == Storage(Path(tmp_path) / "containers" / "storage",
                                              Path(tmp_path) / "containers" / "run", "vfs")
