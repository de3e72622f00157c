"""ORAS compatibility is a tested promise: what leango pushes, ORAS (the CLI and oras-py) pulls
with the same bytes under the same file names, and leango's artifacts follow ORAS conventions."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from leango.oci import Blob, Descriptor, Digest
from leango.oci.manifest import Manifest
from support.tools import require_go_tool, run

TITLE = "org.opencontainers.image.title"
ARTIFACT_TYPE = "application/vnd.leango.test+type"


def _titled(path: Path, media_type: str = "application/octet-stream") -> Blob:
    with open(path, "rb") as src:
        digest, size = Digest.of_stream(src)
    return Blob(Descriptor(media_type, digest, size, ((TITLE, path.name),)), path=path)


@pytest.fixture
def files(tmp_path) -> list[Path]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "notes.txt").write_text("leango and ORAS agree\n")
    (src / "data.bin").write_bytes(bytes(range(256)) * 1000)
    return [src / "notes.txt", src / "data.bin"]


def _same_files(outdir: Path, files: list[Path]) -> None:
    for f in files:
        assert hashlib.sha256((outdir / f.name).read_bytes()).digest() == hashlib.sha256(f.read_bytes()).digest()


def test_oras_cli_pulls_a_leango_artifact(registry, do_push, files, tmp_path):
    oras = require_go_tool("oras")
    art = Manifest(ARTIFACT_TYPE, tuple(_titled(f) for f in files))
    ref = f"{registry.host}/oras/cli:v1"
    do_push(art, [ref])
    out = tmp_path / "pulled"
    run([oras, "pull", "--plain-http", "-o", str(out), ref])
    _same_files(out, files)
    fetched = run([oras, "manifest", "fetch", "--plain-http", ref]).stdout.encode()
    assert fetched == art.raw, "the registry must hold the exact bytes leango hashed"
    desc = json.loads(run([oras, "manifest", "fetch", "--plain-http", "--descriptor", ref]).stdout)
    assert desc["digest"] == str(art.digest) and json.loads(fetched)["artifactType"] == ARTIFACT_TYPE


def test_oras_py_pulls_a_leango_artifact(registry, do_push, files, tmp_path):
    import oras.provider
    art = Manifest(ARTIFACT_TYPE, tuple(_titled(f) for f in files))
    ref = f"{registry.host}/oras/py:v1"
    do_push(art, [ref])
    out = tmp_path / "pulled"
    client = oras.provider.Registry(hostname=registry.host, insecure=True)
    pulled = client.pull(target=ref, outdir=str(out))
    assert sorted(Path(p).name for p in pulled) == sorted(f.name for f in files)
    _same_files(out, files)


def test_oras_cli_reads_a_leango_image(registry, make_image, do_push):
    oras = require_go_tool("oras")
    img = make_image("orasimg")
    ref = f"{registry.host}/oras/image:v1"
    do_push(img, [ref])
    assert run([oras, "manifest", "fetch", "--plain-http", ref]).stdout.encode() == img.raw
    assert run([oras, "blob", "fetch", "--plain-http", "--output", "-",
                f"{registry.host}/oras/image@{img.config_descriptor.digest}"]).stdout.encode() == img.config_bytes


def test_leango_pushes_what_the_oras_cli_pushed_back_unchanged(registry, do_push, files, tmp_path):
    """ORAS's own artifact and leango's for the same files name the same layers."""
    oras = require_go_tool("oras")
    ref = f"{registry.host}/oras/theirs:v1"
    run([oras, "push", "--plain-http", "--artifact-type", ARTIFACT_TYPE, ref,
         *[f"{f.name}:application/octet-stream" for f in files]], cwd=files[0].parent)
    theirs = json.loads(run([oras, "manifest", "fetch", "--plain-http", ref]).stdout)
    ours = json.loads(Manifest(ARTIFACT_TYPE, tuple(_titled(f) for f in files)).raw)
    assert ours["layers"] == theirs["layers"]
    assert ours["artifactType"] == theirs["artifactType"]
    # ORAS embeds the empty config's two bytes ("data": "e30=", which image-spec allows); the
    # descriptor is otherwise the same.
    assert ours["config"] == {k: v for k, v in theirs["config"].items() if k != "data"}
