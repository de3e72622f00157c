"""leango copy: every pair of output kinds and a real registry keeps every digest, real peers accept
each destination, and what is not what its digest says never passes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from support.cli import leango
from support.tools import require, require_go_tool


def _copy(src, dst, *extra, check=True):
    proc = leango("copy", src, dst, "--json", *extra, check=check)
    return json.loads(proc.stdout) if check else proc


def _skopeo_digest(location: str) -> str:
    out = subprocess.run([require("skopeo"), "inspect", "--raw", "--tls-verify=false", location],
                         capture_output=True, check=True).stdout
    import hashlib
    return "sha256:" + hashlib.sha256(out).hexdigest()


def test_layout_to_archive_to_registry_to_layout_keeps_every_digest(hello, registry, tmp_path):
    digest = hello.result["digest"]
    steps = [(f"oci:{hello.layout}", f"oci-archive:{tmp_path / 'a.tar'}:v1"),
             (f"oci-archive:{tmp_path / 'a.tar'}:v1", f"{registry.host}/copy/hello:v1"),
             (f"docker://{registry.host}/copy/hello:v1", f"oci:{tmp_path / 'back'}:v1")]
    for src, dst in steps:
        assert _copy(src, dst)["digest"] == digest, (src, dst)
    for location in (f"oci-archive:{tmp_path / 'a.tar'}", f"docker://{registry.host}/copy/hello:v1",
                     f"oci:{tmp_path / 'back'}:v1"):
        assert _skopeo_digest(location) == digest, location
    crane = require_go_tool("crane")
    subprocess.run([crane, "validate", "--insecure", "--remote", f"{registry.host}/copy/hello:v1"], check=True,
                   capture_output=True)
    mounted = _copy(f"oci:{tmp_path / 'back'}", f"{registry.host}/copy/other:v1", "--mount-from", "copy/hello")
    assert mounted["pushed"] == {"uploaded": 0, "bytes": 0, "existing": 0, "mounted": 3}
    # Copied again, nothing is uploaded: the registry has every blob.
    again = _copy(f"oci:{tmp_path / 'back'}", f"{registry.host}/copy/hello:v2")
    assert again["pushed"] == {"uploaded": 0, "bytes": 0, "existing": 3, "mounted": 0}
    fresh = _copy(f"oci:{tmp_path / 'back'}", f"{registry.host}/fresh/hello:v1", "--mount-from", "nowhere/else")
    assert fresh["digest"] == digest


def test_an_index_copies_whole_and_by_platform(index_layout, registry, tmp_path):
    layout, built = index_layout
    assert _copy(f"oci:{layout}", f"{registry.host}/copy/multi:v1")["digest"] == built["digest"]
    assert _copy(f"{registry.host}/copy/multi:v1", f"oci-archive:{tmp_path / 'm.tar'}")["digest"] == built["digest"]
    arm = next(i for i in built["images"] if i["platform"] == "linux/arm64")
    one = _copy(f"oci-archive:{tmp_path / 'm.tar'}", f"oci:{tmp_path / 'arm'}", "--platform", "linux/arm64/v8")
    assert one["digest"] == arm["digest"] and one["mediaType"].endswith("manifest.v1+json")
    proc = _copy(f"oci:{layout}", f"oci:{tmp_path / 'x'}", "--platform", "linux/s390x", check=False)
    assert proc.returncode == 1 and "no image for linux/s390x" in proc.stderr and "linux/amd64" in proc.stderr


def test_docker_archive_destination_loads(hello, tmp_path, podman):
    out = tmp_path / "d.tar"
    _copy(f"oci:{hello.layout}", f"docker-archive:{out}:localhost/copied:v1")
    crane = require_go_tool("crane")
    subprocess.run([crane, "validate", "--tarball", str(out)], check=True, capture_output=True)
    assert "localhost/copied:v1" in podman.load(out)


def test_docker_archive_round_trips_keep_the_digest_of_an_image_leango_wrote(hello, registry, tmp_path):
    """A docker-archive has no manifest: reading one makes the OCI manifest leango would write,
    so docker-archive → registry → docker-archive → layout keeps the image's digest, and real
    peers accept each destination."""
    digest = hello.result["digest"]
    target = f"{registry.host}/copy/fromdocker:v1"
    assert _copy(f"docker-archive:{hello.tarball}", target)["digest"] == digest
    assert _skopeo_digest(f"docker://{target}") == digest
    crane = require_go_tool("crane")
    subprocess.run([crane, "validate", "--insecure", "--remote", target], check=True, capture_output=True)
    again = tmp_path / "again.docker.tar"
    _copy(target, f"docker-archive:{again}:localhost/again:v1")
    subprocess.run([crane, "validate", "--tarball", str(again)], check=True, capture_output=True)
    assert _copy(f"docker-archive:{again}:localhost/again:v1", f"oci:{tmp_path / 'lay'}:v1")["digest"] == digest
    assert _copy(f"docker-archive:{again}:@0", f"oci-archive:{tmp_path / 'a.tar'}")["digest"] == digest
    assert _skopeo_digest(f"oci:{tmp_path / 'lay'}:v1") == digest


def test_docker_archive_entries_are_picked_by_tag_or_number(index_layout, tmp_path):
    layout, _ = index_layout
    both = tmp_path / "both.docker.tar"
    _copy(f"oci:{layout}", f"docker-archive:{both}:localhost/multi:v1")  # one entry per platform
    proc = _copy(f"docker-archive:{both}", f"oci:{tmp_path / 'x'}", check=False)
    assert proc.returncode == 1 and "holds 2 images: name one" in proc.stderr
    by_tag = _copy(f"docker-archive:{both}:localhost/multi:v1", f"oci:{tmp_path / 'tag'}")
    second = _copy(f"docker-archive:{both}:@1", f"oci:{tmp_path / 'one'}")
    assert by_tag["digest"] != second["digest"]
    children = json.loads((layout / "blobs" / "sha256" / json.loads((layout / "index.json").read_text())
                           ["manifests"][0]["digest"].split(":")[1]).read_text())["manifests"]
    assert {by_tag["digest"], second["digest"]} == {c["digest"] for c in children}
    proc = _copy(f"docker-archive:{both}:@2", f"oci:{tmp_path / 'none'}", check=False)
    assert proc.returncode == 1 and "there is no @2" in proc.stderr


def _broken_layout(hello, tmp_path: Path) -> Path:
    copy = tmp_path / "src"
    shutil.copytree(hello.layout, copy)
    return copy


def _manifest(layout: Path) -> tuple[dict, Path]:
    index = json.loads((layout / "index.json").read_text())
    desc = index["manifests"][0]
    path = layout / "blobs" / "sha256" / desc["digest"].split(":")[1]
    return json.loads(path.read_text()), path


def _flip_a_layer_byte(layout):
    manifest, _ = _manifest(layout)
    layer = layout / "blobs" / "sha256" / manifest["layers"][-1]["digest"].split(":")[1]
    data = bytearray(layer.read_bytes())
    data[len(data) // 2] ^= 0xFF
    layer.write_bytes(bytes(data))
    return manifest["layers"][-1]["digest"]


def _drop_the_config(layout):
    manifest, _ = _manifest(layout)
    (layout / "blobs" / "sha256" / manifest["config"]["digest"].split(":")[1]).unlink()
    return manifest["config"]["digest"]


def _edit_the_manifest(layout):
    _, path = _manifest(layout)
    path.write_bytes(path.read_bytes().replace(b'"schemaVersion":2', b'"schemaVersion":2 '))
    return "manifest"


def _wrong_size_in_the_index(layout):
    index = json.loads((layout / "index.json").read_text())
    index["manifests"][0]["size"] += 1
    (layout / "index.json").write_text(json.dumps(index))
    return "bytes"


@pytest.mark.parametrize("corrupt", [_flip_a_layer_byte, _drop_the_config, _edit_the_manifest,
                                     _wrong_size_in_the_index])
def test_what_is_not_what_its_digest_says_never_passes(hello, tmp_path, corrupt):
    clean = _copy(f"oci:{_broken_layout(hello, tmp_path / 'ok')}", f"oci:{tmp_path / 'good'}")
    assert clean["digest"] == hello.result["digest"]  # the same copy of an intact layout passes
    src = _broken_layout(hello, tmp_path)
    named = corrupt(src)
    proc = _copy(f"oci:{src}", f"oci:{tmp_path / 'dst'}", check=False)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("leango: error: ") and named in lines[0], proc.stderr
    index = tmp_path / "dst" / "index.json"
    assert not index.exists() or json.loads(index.read_text())["manifests"] == []  # nothing named


@pytest.mark.parametrize("args,message", [
    (["nowhere:/x", "oci:/tmp/y"], "neither a reference nor TRANSPORT:PATH"),
    (["oci:", "oci:/tmp/y"], "needs a path"),
    (["oci:/tmp/y", "Upper/Case:v1"], "invalid repository"),
])
def test_bad_locations_are_bad_input(args, message):
    proc = leango("copy", *args, check=False)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_a_missing_layout_fails_in_one_line(tmp_path):
    proc = leango("copy", f"oci:{tmp_path / 'none'}", f"oci:{tmp_path / 'dst'}", check=False)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines() == [
        f"leango: error: {tmp_path / 'none'} is not an OCI layout (no oci-layout file)"]


def test_a_corrupted_blob_never_reaches_a_registry(hello, registry, tmp_path):
    src = _broken_layout(hello, tmp_path)
    named = _flip_a_layer_byte(src)
    proc = _copy(f"oci:{src}", f"{registry.host}/copy/broken:v1", "-v", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    errors = [l for l in proc.stderr.splitlines() if l.startswith("leango: error: ")]
    assert len(errors) == 1 and named in errors[0] and "retrying" not in proc.stderr, proc.stderr
    gone = subprocess.run([require("skopeo"), "inspect", "--tls-verify=false", f"docker://{registry.host}/copy/broken:v1"],
                          capture_output=True, text=True)
    assert gone.returncode != 0  # the tag was never pushed


def test_inspect_shows_platforms_layers_files_and_the_config(hello, index_layout):
    doc = json.loads(leango("inspect", f"oci:{hello.layout}", "--files", "--json").stdout)
    assert doc["digest"] == hello.result["digest"] and doc["platform"] == "linux/amd64"
    skopeo = json.loads(subprocess.run([require("skopeo"), "inspect", "--config", f"oci:{hello.layout}"],
                                       capture_output=True, text=True, check=True).stdout)["config"]
    assert doc["config"]["Entrypoint"] == skopeo["Entrypoint"] == ["/hello-world"]
    assert doc["config"]["User"] == skopeo["User"] == "65532:65532"
    base, app = doc["layers"]
    assert [l["digest"] for l in doc["layers"]] == [l["digest"] for l in hello.result["images"][0]["layers"]]
    assert all(l["uncompressedSize"] > l["size"] for l in doc["layers"])
    files = {f["path"]: f for f in base["files"] + app["files"]}
    assert files["hello-world"]["mode"] == "0555" and files["hello-world"]["uid"] == 0
    assert files["home/nonroot"]["uid"] == 65532 and files["tmp"]["mode"] == "1777"
    assert "etc/ssl/certs/ca-certificates.crt" in files
    layout, built = index_layout
    text = leango("inspect", f"oci:{layout}").stdout
    assert built["digest"] in text and "linux/amd64" in text and "linux/arm64" in text
    assert "Entrypoint  /hello-world" in text and "files" not in text


def test_inspect_reads_nothing_unverified(hello, tmp_path):
    src = _broken_layout(hello, tmp_path)
    named = _flip_a_layer_byte(src)
    proc = leango("inspect", f"oci:{src}", check=False)
    assert proc.returncode == 1 and proc.stdout == "" and named in proc.stderr


KINDS = ("oci", "oci-archive", "docker-archive", "docker")


@pytest.fixture(scope="module")
def every_kind(hello, registry):
    """The hello image as each kind of source: leango's own outputs, and a registry."""
    target = f"{registry.host}/pairs/src:v1"
    leango("copy", f"oci:{hello.layout}", target)
    return {"oci": f"oci:{hello.layout}", "oci-archive": f"oci-archive:{hello.archive}",
            "docker-archive": f"docker-archive:{hello.tarball}", "docker": f"docker://{target}"}


@pytest.mark.parametrize("dst_kind", KINDS)
@pytest.mark.parametrize("src_kind", KINDS)
def test_every_pair_of_kinds_keeps_the_digest(every_kind, hello, registry, tmp_path, src_kind, dst_kind):
    digest = hello.result["digest"]
    dst = {"oci": f"oci:{tmp_path / 'lay'}:v1", "oci-archive": f"oci-archive:{tmp_path / 'a.tar'}:v1",
           "docker-archive": f"docker-archive:{tmp_path / 'd.tar'}:localhost/pair:v1",
           "docker": f"docker://{registry.host}/pairs/{src_kind}-to-{dst_kind}:v1"}[dst_kind]
    assert _copy(every_kind[src_kind], dst)["digest"] == digest
    crane = require_go_tool("crane")
    if dst_kind == "docker-archive":  # no manifest of its own: read back, it is the same image
        subprocess.run([crane, "validate", "--tarball", str(tmp_path / "d.tar")], check=True, capture_output=True)
        assert _copy(dst, f"oci:{tmp_path / 'back'}")["digest"] == digest
        return
    assert _skopeo_digest(dst) == digest
    if dst_kind == "docker":
        subprocess.run([crane, "validate", "--insecure", "--remote", dst.removeprefix("docker://")], check=True,
                       capture_output=True)
