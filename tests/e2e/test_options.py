"""README promises about options, proved on the built binary and image: --build-tags and --env
reach `go build`, --user is who the image runs as, the toolchain and module are read-only."""

from __future__ import annotations

import json

from support.cli import leango
from support.paths import FIXTURES
from support.peers import Buildah


def test_build_tags_env_and_user_reach_the_binary_and_image(tmp_path, cache_dir):
    archive = tmp_path / "bi.tar"
    proc = leango("build", FIXTURES / "buildinfo", "--build-tags", "netgo,leangotest", "--env", "GOFIPS140=latest",
                  "--user", "1234:5678", "--oci-archive", archive, "--json",
                  "--cache-dir", cache_dir)
    assert json.loads(proc.stdout)["binary"] == "buildinfo"
    ran = Buildah(tmp_path / "b").run_image(f"oci-archive:{archive}", "/buildinfo").stdout.splitlines()
    assert "-tags=netgo,leangotest" in ran and "GOFIPS140=latest" in ran
    assert "uid=1234 gid=5678" in ran


def test_the_default_user_is_nonroot(tmp_path, cache_dir):
    archive = tmp_path / "bi.tar"
    leango("build", FIXTURES / "buildinfo", "--oci-archive", archive, "--cache-dir", cache_dir)
    ran = Buildah(tmp_path / "b").run_image(f"oci-archive:{archive}", "/buildinfo").stdout
    assert "uid=65532 gid=65532" in ran and "-tags" not in ran


def test_toolchain_and_module_are_mounted_read_only(tmp_path, goroot):
    """In the build step's mounts, writing into the module or the toolchain fails."""
    from leango.builder import gobuild
    from leango.builder.buildah import BuildahSession, Storage
    from leango.builder.gorun import Paths
    from leango.builder.runner import SubprocessRunner
    from leango.builder.toolchain import find_toolchain
    from leango.oci.registry.tls import system_ca_file
    module = tmp_path / "module"
    (module).mkdir()
    (module / "go.mod").write_text("module example.com/ro\n\ngo 1.21\n")
    (module / "main.go").write_text("package main\n\nfunc main() {}\n")
    dirs = {name: tmp_path / name for name in ("out", "tmp", "build", "mod")}
    for d in dirs.values():
        d.mkdir()
    paths = Paths(module, dirs["out"], dirs["tmp"], dirs["build"], dirs["mod"], system_ca_file())
    toolchain = find_toolchain(SubprocessRunner(), goroot)
    env = {"GOROOT": gobuild.GOROOT, "HOME": "/tmp", "GOCACHE": "/cache/go-build", "GOTOOLCHAIN": "local",
           "GOPROXY": "off", "CGO_ENABLED": "0", "GOFLAGS": ""}
    with BuildahSession(SubprocessRunner(), Storage.under(tmp_path / "cache")) as session:
        mounts = paths.mounts(toolchain, "build")
        for target in (f"{gobuild.SRC}/written", f"{gobuild.GOROOT}/bin/written", "/cache/mod/written"):
            res = session.run([gobuild.GO, "build", "-o", target, "."], mounts=mounts, env=env, workdir=gobuild.SRC)
            assert not res.ok and "read-only file system" in res.stderr, (target, res.stderr)
        ok = session.run([gobuild.GO, "build", "-o", f"{gobuild.OUT}/written", "."], mounts=mounts, env=env,
                         workdir=gobuild.SRC)
        assert ok.ok, ok.stderr
    assert not (module / "written").exists() and (dirs["out"] / "written").exists()
