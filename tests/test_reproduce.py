"""What --check-reproducible says when two builds differ: the platform, the layer and the first
file (and how it differs), or the config or manifest field; nothing when they are the same. The
whole check runs end to end in tests/e2e/test_reproducible.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import certifi
import pytest

from leango.builder.containerize import AppBinary, BaseOptions, containerize
from leango.builder.reproduce import NotReproducible, check, first_difference, layer_difference, second_spec
from leango.builder.spec import Attestations, BuildSpec, ImageSettings, Outputs, PushOptions
from leango.oci import Index, Platform, parse_reference

AMD64, ARM64 = Platform("linux", "amd64"), Platform("linux", "arm64")


@pytest.fixture
def make(tmp_path, static_binary):
    def build(binary=None, platforms=(AMD64,), mtime=0, compression="gzip", settings=None, name="app"):
        work = tmp_path / f"w{len(list(tmp_path.iterdir()))}"
        kwargs = {"settings": settings} if settings else {}
        return containerize([AppBinary(name, binary or static_binary, p) for p in platforms],
                            BaseOptions(Path(certifi.where()).read_bytes(), compression, mtime), work, **kwargs)
    return build


def test_the_same_images_have_no_difference(make):
    assert first_difference(make(), make()) == ""
    assert first_difference(make(platforms=(AMD64, ARM64)), make(platforms=(AMD64, ARM64))) == ""


def test_another_binary_is_named_with_its_layer_and_platform(make, tmp_path, static_binary):
    other = tmp_path / "other"
    shutil.copy(static_binary, other)
    with open(other, "ab") as f:
        f.write(b"built at 12:00")
    a, b = make(platforms=(AMD64, ARM64)), make(binary=other, platforms=(AMD64, ARM64))
    said = first_difference(a, b)
    la, lb = a.manifests[0].layers[1], b.manifests[0].layers[1]
    assert said.startswith(f"linux/amd64: layer 2 of 2 ({la.digest}, then {lb.digest}): /app: its content differs "
                           "(sha256 ")
    assert isinstance(a, Index) and said == first_difference(a.manifests[0], b.manifests[0])


def test_how_a_file_differs(make):
    newer = make(mtime=1700000000)
    said = first_difference(make(), newer)
    assert said.endswith(": /etc: its modification time differs (0, then 1700000000)"), said
    assert "layer 1 of 2" in said
    # Another compression of the same files: the layers differ, the files do not.
    zstd = make(compression="zstd")
    assert layer_difference(make().layers[0].blob, zstd.layers[0].blob) == "the same files, other bytes (compression)"


def test_a_file_only_one_build_has(make, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("a")
    one = make(settings=ImageSettings(data_dir=data))
    (data / "b.txt").write_text("b")
    two = make(settings=ImageSettings(data_dir=data))
    said = first_difference(one, two)
    assert "layer 3 of 3" in said and said.endswith("/var/run/leango/data/b.txt: only in the second build"), said
    assert first_difference(two, one).endswith("/var/run/leango/data/b.txt: only in the first build")


def test_config_and_manifest_differences_name_the_field(make):
    a = make()
    b = make(settings=ImageSettings(runtime_env=(("MODE", "prod"),)))
    env = json.loads(a.config_bytes)["config"]["Env"]
    assert first_difference(a, b) == (f"linux/amd64: the config: config.Env: {json.dumps(env)}, then "
                                      f"{json.dumps([*env, 'MODE=prod'])}")
    c = make(settings=ImageSettings(annotations=(("org.opencontainers.image.revision", "c0ffee"),)))
    assert first_difference(a, c) == 'linux/amd64: the manifest: annotations: null, then ' \
        '{"org.opencontainers.image.revision": "c0ffee"}'
    two = make(platforms=(AMD64, ARM64))
    indexed = make(platforms=(AMD64, ARM64), settings=ImageSettings(index_annotations=(("a", "1"),)))
    assert first_difference(two, indexed) == 'the index: annotations: null, then {"a": "1"}'
    assert first_difference(a, two) == "1 images, then 2"


def test_the_second_build_writes_nothing_keeps_no_record_and_gets_empty_caches(tmp_path):
    spec = BuildSpec(sources=(".",), cache_dir=tmp_path, platforms=(AMD64,), check_reproducible=True,
                     references=(parse_reference("127.0.0.1:5000/a:v1"),), push=PushOptions(),
                     outputs=Outputs(oci_layout=tmp_path / "l"), ldflags="-X main.t={{ .Date }}",
                     attest=Attestations(("spdx",), True))
    again = second_spec(spec, tmp_path / "scratch")
    assert (again.push, again.outputs, again.remote_cache, again.signer, again.reuse, again.check_reproducible) == \
        (None, Outputs(), None, None, False, False)
    assert not again.attest.any
    assert (again.go_build_cache, again.go_mod_cache) == (tmp_path / "scratch" / "go-build", tmp_path / "scratch" / "mod")
    assert again.ldflags == spec.ldflags  # expanded again by the second build
    # with its clock ahead: another second and another date, however fast the two builds are
    assert spec.clock_offset == 0 and again.clock_offset > 86400
    from dataclasses import replace
    offline = second_spec(replace(spec, offline=True), tmp_path / "scratch")
    assert offline.go_build_cache == tmp_path / "scratch" / "go-build" and offline.go_mod_cache is None


def test_check_raises_at_the_first_difference_and_removes_its_scratch(make, tmp_path, static_binary):
    spec = BuildSpec(sources=(".",), cache_dir=tmp_path / "cache", platforms=(AMD64,))
    same, removed = make(), []

    def remove(path):
        removed.append(path)
        shutil.rmtree(path)
    check(spec, lambda again: [make()], [same], remove)
    assert len(removed) == 1 and removed[0].parent == tmp_path / "cache" / "work" and not removed[0].exists()
    other = tmp_path / "other"
    other.write_bytes(static_binary.read_bytes() + b"x")
    with pytest.raises(NotReproducible) as info:
        check(spec, lambda again: [make(binary=other)], [same], remove)
    assert str(info.value).startswith("not reproducible: a second build gave sha256:")
    assert f", not {same.digest}: linux/amd64: layer 2 of 2 (" in str(info.value)
    assert str(info.value).endswith("(an input that changes from build to build reaches the image: the time? "
                                    "SOURCE_DATE_EPOCH fixes {{ .Date }})")
    assert len(removed) == 2 and not removed[1].exists()  # removed on failure too
