"""leango verify: passes on everything leango writes, and fails, naming the problem, on each
planted corruption; crane validate agrees where it checks the same thing."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from support.cli import leango
from support.tools import require_go_tool


def _verify(src: str, *extra: str, ok: bool = True):
    proc = leango("verify", src, "--json", *extra, check=False)
    assert (proc.returncode == 0) is ok, proc.stderr
    return json.loads(proc.stdout) if ok else proc.stderr


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Layout:
    """A copy of a built layout whose documents a test rewrites, re-hashing up to index.json."""

    def __init__(self, src: Path, dest: Path):
        shutil.copytree(src, dest)
        self.root = dest

    def blob(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / digest.split(":")[1]

    @property
    def index(self) -> dict:
        return json.loads((self.root / "index.json").read_text())

    def manifest(self) -> dict:
        return json.loads(self.blob(self.index["manifests"][0]["digest"]).read_text())

    def config(self) -> dict:
        return json.loads(self.blob(self.manifest()["config"]["digest"]).read_text())

    def _put(self, data: bytes) -> str:
        digest = _sha(data)
        self.blob(digest).write_bytes(data)
        return digest

    def set_manifest(self, manifest: dict) -> None:
        data = json.dumps(manifest).encode()
        index = self.index
        index["manifests"][0].update(digest=self._put(data), size=len(data))
        (self.root / "index.json").write_text(json.dumps(index))

    def set_config(self, config: dict) -> None:
        data = json.dumps(config).encode()
        manifest = self.manifest()
        manifest["config"].update(digest=self._put(data), size=len(data))
        self.set_manifest(manifest)


@pytest.fixture
def layout(hello, tmp_path) -> Layout:
    return Layout(hello.layout, tmp_path / "layout")


def test_passes_on_every_output_leango_writes(hello, registry, index_layout):
    digest = hello.result["digest"]
    for src in (f"oci:{hello.layout}", f"oci-archive:{hello.archive}", f"docker-archive:{hello.tarball}"):
        report = _verify(src)
        assert report["digest"] == digest and report["schemas"] == "checked", src
        assert report["images"] == [{"entrypoint": "/hello-world", "manifest": digest, "platform": "linux/amd64"}]
    leango("copy", f"oci:{hello.layout}", f"{registry.host}/verify/hello:v1")
    assert _verify(f"{registry.host}/verify/hello:v1")["digest"] == digest
    multi = _verify(f"oci:{index_layout[0]}")
    assert sorted(i["platform"] for i in multi["images"]) == ["linux/amd64", "linux/arm64"]
    assert len(multi["manifests"]) == 3


def test_a_flipped_byte_in_a_layer(layout, hello, tmp_path):
    layer = layout.manifest()["layers"][-1]["digest"]
    data = bytearray(layout.blob(layer).read_bytes())
    data[len(data) // 2] ^= 0x01
    layout.blob(layer).write_bytes(bytes(data))
    assert layer in _verify(f"oci:{layout.root}", ok=False)
    # The same flip inside a docker-archive: leango and crane validate --tarball both refuse it.
    tarball = tmp_path / "flipped.docker.tar"
    shutil.copy(hello.tarball, tarball)
    with tarfile.open(tarball) as tar:
        member = tar.getmember(f"blobs/sha256/{layer.split(':')[1]}")
    with open(tarball, "r+b") as f:
        f.seek(member.offset_data + member.size // 2)
        byte = f.read(1)[0]
        f.seek(-1, 1)
        f.write(bytes([byte ^ 0x01]))
    assert "layer" in _verify(f"docker-archive:{tarball}", ok=False)
    crane = require_go_tool("crane")
    assert subprocess.run([crane, "validate", "--tarball", str(tarball)], capture_output=True).returncode != 0
    assert subprocess.run([crane, "validate", "--tarball", str(hello.tarball)], capture_output=True).returncode == 0


def test_a_wrong_size(layout):
    manifest = layout.manifest()
    manifest["layers"][-1]["size"] += 1
    layout.set_manifest(manifest)
    assert "bytes" in _verify(f"oci:{layout.root}", ok=False)


def test_a_wrong_diff_id_and_crane_agrees(layout, registry):
    config = layout.config()
    config["rootfs"]["diff_ids"][-1] = _sha(b"something else")
    layout.set_config(config)
    assert "diff ID" in _verify(f"oci:{layout.root}", ok=False)
    # A registry stores it (it checks no diff IDs); crane validate refuses it there too.
    target = f"{registry.host}/verify/diffid:v1"
    leango("copy", f"oci:{layout.root}", target)
    crane = require_go_tool("crane")
    assert subprocess.run([crane, "validate", "--insecure", "--remote", target], capture_output=True).returncode != 0
    assert "diff ID" in _verify(target, ok=False)


def test_a_missing_blob(layout):
    layout.blob(layout.manifest()["layers"][0]["digest"]).unlink()
    assert "missing" in _verify(f"oci:{layout.root}", ok=False)


def test_a_manifest_whose_bytes_do_not_match_its_digest(layout):
    path = layout.blob(layout.index["manifests"][0]["digest"])
    path.write_bytes(path.read_bytes().replace(b'"schemaVersion":2', b'"schemaVersion": 2'))
    assert "sha256:" in _verify(f"oci:{layout.root}", ok=False)


def test_a_schema_invalid_config(layout):
    config = layout.config()
    config["architecture"] = 64
    layout.set_config(config)
    err = _verify(f"oci:{layout.root}", ok=False)
    assert "config schema" in err and "architecture" in err


def test_a_dynamically_linked_entrypoint(tmp_path, make_image):
    from leango.oci.sinks.layout import write_layout
    dynamic = make_image(binary=Path("/bin/true"))
    write_layout(tmp_path / "dyn", dynamic, ["v1"])
    assert "dynamically linked" in _verify(f"oci:{tmp_path / 'dyn'}", ok=False)
    # --no-entrypoint is for images whose entrypoint is not leango's to judge; the rest still passes.
    assert _verify(f"oci:{tmp_path / 'dyn'}", "--no-entrypoint")["verified"]
    static = make_image()
    write_layout(tmp_path / "static", static, ["v1"])
    assert _verify(f"oci:{tmp_path / 'static'}")["verified"]
