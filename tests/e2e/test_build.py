"""Go source → runnable scratch image, with real buildah, Go and image consumers."""

from __future__ import annotations

import json
import os
import shutil
import tarfile

from support.cli import HELLO_REF, leango
from support.ocicheck import check_layout
from support.paths import FIXTURES
from support.peers import Buildah, extract, skopeo_inspect, umoci_unpack


def test_json_result(hello):
    r = hello.result
    assert r["references"] == [f"{HELLO_REF}@{r['digest']}"]
    [image] = r["images"]
    assert image["platform"] == "linux/amd64" and image["digest"] == r["digest"]
    assert image["config"].startswith("sha256:")
    assert [l["mediaType"] for l in image["layers"]] == ["application/vnd.oci.image.layer.v1.tar+gzip"] * 2
    assert all(l["size"] > 0 and l["digest"].startswith("sha256:") for l in image["layers"])
    # Progress goes to stderr; stdout is only the JSON result (already parsed above).
    assert "compiling" in hello.stderr and "wrote oci layout" in hello.stderr
    assert hello.stdout.lstrip().startswith("{") and hello.stdout.rstrip().endswith("}")


def test_no_containers_or_images_left_behind(hello):
    assert hello.buildah_after == hello.buildah_before


def test_layout_and_archive_validate_and_inspect(hello, tmp_path):
    report = check_layout(hello.layout)
    assert [str(d) for d in report.manifests] == [hello.result["digest"]]
    assert len(check_layout(extract(hello.archive, tmp_path / "x")).manifests) == 1
    for ref in (f"oci:{hello.layout}:{HELLO_REF}", f"oci-archive:{hello.archive}"):
        info = skopeo_inspect(ref)
        assert info["Digest"] == hello.result["digest"]
        assert info["Layers"] == [l["digest"] for l in hello.result["images"][0]["layers"]]


def test_podman_loads_both_tarballs(hello, podman):
    config = hello.result["images"][0]["config"].split(":")[1]
    for archive in (hello.archive, hello.tarball):
        assert HELLO_REF in podman.load(archive)
        info = podman.inspect(HELLO_REF)
        assert info["Id"] == config
        assert info["Config"]["User"] == "65532:65532"
        assert info["Config"]["Entrypoint"] == ["/hello-world"]


def test_ctr_imports_the_docker_archive(hello, containerd):
    out = containerd.ctr_cmd("images", "import", str(hello.tarball)).stdout
    assert HELLO_REF in out
    assert HELLO_REF in containerd.ctr_cmd("images", "ls", "-q").stdout.split()


def test_umoci_unpacks_expected_tree(hello, tmp_path):
    import os
    import stat
    rootfs = umoci_unpack(hello.layout, HELLO_REF, tmp_path / "bundle")
    binary = rootfs / "hello-world"
    assert stat.S_IMODE(binary.stat().st_mode) == 0o555
    assert (rootfs / "etc/ssl/certs/ca-certificates.crt").stat().st_size > 100_000
    assert stat.S_IMODE(os.lstat(rootfs / "tmp").st_mode) == 0o1777
    assert sorted(p.name for p in rootfs.iterdir()) == ["etc", "hello-world", "home", "tmp"]


def test_the_image_runs(hello, tmp_path):
    proc = Buildah(tmp_path / "b").run_image(f"oci-archive:{hello.archive}", "/hello-world")
    assert proc.stdout == "Hello world\n"


def test_same_digest_from_another_directory(hello, tmp_path, cache_dir):
    copy = tmp_path / "elsewhere" / "deeper" / "hello-world"
    shutil.copytree(FIXTURES / "hello-world", copy)
    proc = leango("build", copy, "--tag", HELLO_REF, "--oci-layout", tmp_path / "l2",
                  "--cache-dir", tmp_path / "fresh-cache", cwd=tmp_path)
    assert proc.stdout.strip() == f"{HELLO_REF}@{hello.result['digest']}"


def test_default_output_is_a_layout(tmp_path, cache_dir):
    proc = leango("build", FIXTURES / "hello-world", "--cache-dir", cache_dir, cwd=tmp_path)
    digest = proc.stdout.strip()
    assert digest.startswith("sha256:")
    layout = tmp_path / "leango-out" / "hello-world"
    assert str(layout.relative_to(tmp_path)) in proc.stderr
    assert [str(d) for d in check_layout(layout).manifests] == [digest]


def test_zstd_build(tmp_path, cache_dir):
    proc = leango("build", FIXTURES / "hello-world", "--compression", "zstd", "--json",
                  "--oci-archive", tmp_path / "z.tar", "--cache-dir", cache_dir)
    layers = json.loads(proc.stdout)["images"][0]["layers"]
    assert {l["mediaType"] for l in layers} == {"application/vnd.oci.image.layer.v1.tar+zstd"}
    assert check_layout(extract(tmp_path / "z.tar", tmp_path / "x")).manifests


def test_source_date_epoch_sets_every_timestamp(tmp_path, cache_dir, hello):
    import tarfile
    proc = leango("build", FIXTURES / "hello-world", "--json", "--oci-layout", tmp_path / "l",
                  "--cache-dir", cache_dir, env={"SOURCE_DATE_EPOCH": "1700000000"})
    result = json.loads(proc.stdout)
    assert result["digest"] != hello.result["digest"]
    blobs = tmp_path / "l" / "blobs" / "sha256"
    config = json.loads((blobs / result["images"][0]["config"][7:]).read_bytes())
    assert config["created"] == "2023-11-14T22:13:20Z"
    assert {h["created"] for h in config["history"]} == {"2023-11-14T22:13:20Z"}
    for layer in result["images"][0]["layers"]:
        with tarfile.open(blobs / layer["digest"][7:]) as tar:
            assert {m.mtime for m in tar.getmembers()} == {1700000000}


def test_go_caches_default_to_xdg_cache_home(tmp_path):
    cache_home = tmp_path / "xdg"
    leango("build", FIXTURES / "hello-world", "-q", "--oci-layout", tmp_path / "l",
           env={"XDG_CACHE_HOME": str(cache_home)})
    assert (cache_home / "leango" / "go" / "go-build").is_dir()
    # The per-build work directory is gone afterwards.
    assert list((cache_home / "leango" / "work").iterdir()) == []


def test_readme_library_example_runs(tmp_path, cache_dir):
    """The README's Python example, run as written (from a copy of the fixture, in a scratch dir)."""
    import re
    import shutil
    import subprocess
    import sys

    from support.paths import REPO
    code = re.search(r"## As a library.*?```python\n(.*?)```", (REPO / "README.md").read_text(), re.S).group(1)
    shutil.copytree(FIXTURES / "hello-world", tmp_path / "fixtures" / "hello-world")
    # The default cache directory, $XDG_CACHE_HOME/leango, is the session's (warm) one.
    (tmp_path / "xdg").mkdir()
    (tmp_path / "xdg" / "leango").symlink_to(cache_dir)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()
    digest, outputs = first.split(" ", 1)
    assert digest.startswith("sha256:") and outputs == repr({"oci_layout": "out/layout"})
    assert [m["digest"] for m in json.loads((tmp_path / "out" / "layout" / "index.json").read_text())["manifests"]] \
        == [digest]
    assert second.startswith("sha256:") and second != digest  # another platform: another image
    with tarfile.open(tmp_path / "out" / "hello-arm64.tar") as tar:
        index = json.load(tar.extractfile("index.json"))
    assert [m["digest"] for m in index["manifests"]] == [second]
