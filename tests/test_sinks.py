"""Every sink: write → read back with a real peer → compare."""

import json
import os
import stat

import pytest

from leango.oci import Index, Platform
from leango.oci.errors import ArchiveError, LayoutError
from leango.oci.sinks.archive import write_oci_archive
from leango.oci.sinks.docker_archive import write_docker_archive
from leango.oci.sinks.layout import REF_NAME, write_layout
from support.ocicheck import check_layout
from support.peers import extract, skopeo_inspect, umoci_unpack

REF = "localhost:5000/app:v1"


def test_layout_round_trip_with_skopeo_and_umoci(tmp_path, make_image):
    img = make_image("app")
    layout = tmp_path / "layout"
    write_layout(layout, img, [REF])
    report = check_layout(layout)
    assert report.manifests == [img.digest]
    info = skopeo_inspect(f"oci:{layout}:{REF}")
    assert info["Digest"] == str(img.digest)
    assert (info["Os"], info["Architecture"]) == ("linux", "amd64")
    assert info["Layers"] == [str(l.digest) for l in img.layers]

    rootfs = umoci_unpack(layout, REF, tmp_path / "bundle")
    modes = {p: stat.S_IMODE(os.lstat(rootfs / p).st_mode) for p in
             ("app", "etc", "etc/ssl/certs/ca-certificates.crt", "etc/passwd", "tmp")}
    assert modes == {"app": 0o555, "etc": 0o755, "etc/ssl/certs/ca-certificates.crt": 0o644,
                     "etc/passwd": 0o644, "tmp": 0o1777}
    assert "nonroot:x:65532:65532" in (rootfs / "etc/passwd").read_text()
    assert "nonroot:x:65532:" in (rootfs / "etc/group").read_text()
    assert sorted(p.name for p in rootfs.iterdir()) == ["app", "etc", "home", "tmp"]


def test_layout_is_extended_and_retagged(tmp_path, make_image):
    layout = tmp_path / "layout"
    one, two = make_image("one"), make_image("two")
    write_layout(layout, one, ["localhost/x:1", "localhost/x:latest"])
    write_layout(layout, two, ["localhost/x:2", "localhost/x:latest"])
    index = json.loads((layout / "index.json").read_bytes())
    names = {m["annotations"][REF_NAME]: m["digest"] for m in index["manifests"]}
    assert names == {"localhost/x:1": str(one.digest), "localhost/x:2": str(two.digest),
                     "localhost/x:latest": str(two.digest)}
    check_layout(layout)
    assert skopeo_inspect(f"oci:{layout}:localhost/x:1")["Digest"] == str(one.digest)
    # Writing the same image again changes nothing.
    before = (layout / "index.json").read_bytes()
    write_layout(layout, two, ["localhost/x:2", "localhost/x:latest"])
    assert (layout / "index.json").read_bytes() == before


def test_layout_refuses_a_foreign_directory(tmp_path, make_image):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(LayoutError, match="not an OCI layout"):
        write_layout(tmp_path, make_image(), [REF])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "work-app-amd64-gzip"]


def test_oci_archive_round_trip(tmp_path, make_image, podman):
    img = make_image("app")
    archive = tmp_path / "out" / "app.oci.tar"
    write_oci_archive(archive, img, [REF])
    check_layout(extract(archive, tmp_path / "x"))
    assert skopeo_inspect(f"oci-archive:{archive}")["Digest"] == str(img.digest)
    assert REF in podman.load(archive)
    assert podman.inspect(REF)["Id"] == img.config_descriptor.digest.hex


def test_docker_archive_round_trip(tmp_path, make_image, podman, containerd):
    img = make_image("app")
    archive = tmp_path / "app.docker.tar"
    write_docker_archive(archive, img, [REF])
    root = extract(archive, tmp_path / "x")
    manifest = json.loads((root / "manifest.json").read_bytes())
    assert manifest == [{"Config": f"blobs/sha256/{img.config_descriptor.digest.hex}",
                         "RepoTags": [REF],
                         "Layers": [f"blobs/sha256/{l.digest.hex}" for l in img.layers]}]
    config = json.loads((root / manifest[0]["Config"]).read_bytes())
    from leango.oci.validate import diff_id
    assert config["rootfs"]["diff_ids"] == [str(diff_id(root / p, l.media_type))
                                            for p, l in zip(manifest[0]["Layers"], img.layers, strict=True)]
    assert skopeo_inspect(f"docker-archive:{archive}")["Layers"]
    assert REF in podman.load(archive)
    assert podman.inspect(REF)["Id"] == img.config_descriptor.digest.hex
    out = containerd.ctr_cmd("images", "import", str(archive)).stdout
    assert REF in out
    listed = containerd.ctr_cmd("images", "ls", "-q").stdout.split()
    assert REF in listed


def test_zstd_image_in_layout(tmp_path, make_image):
    img = make_image("app", compression="zstd")
    layout = tmp_path / "layout"
    write_layout(layout, img, [REF])
    check_layout(layout)
    raw = skopeo_inspect(f"oci:{layout}:{REF}", raw=True)
    assert {l["mediaType"] for l in raw["layers"]} == {"application/vnd.oci.image.layer.v1.tar+zstd"}
    assert skopeo_inspect(f"oci:{layout}:{REF}")["Digest"] == str(img.digest)


def test_multi_platform_index_everywhere(tmp_path, make_image, containerd):
    index = Index((make_image("app"), make_image("app", platform=Platform("linux", "arm64"))))
    layout, archive, tarball = tmp_path / "l", tmp_path / "a.tar", tmp_path / "d.tar"
    write_layout(layout, index, ["localhost/multi:v1"])
    write_oci_archive(archive, index, ["localhost/multi:v1"])
    write_docker_archive(tarball, index, ["localhost/multi:v1"])
    assert len(check_layout(layout).manifests) == 2
    raw = skopeo_inspect(f"oci:{layout}:localhost/multi:v1", raw=True)
    assert raw["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert len(check_layout(extract(archive, tmp_path / "ax")).manifests) == 2
    entries = json.loads((extract(tarball, tmp_path / "dx") / "manifest.json").read_bytes())
    assert [e["RepoTags"] for e in entries] == [["localhost/multi:v1"], []]
    containerd.ctr_cmd("images", "import", "--all-platforms", str(archive))
    assert "localhost/multi:v1" in containerd.ctr_cmd("images", "ls", "-q").stdout.split()


def test_archives_are_reproducible(tmp_path, make_image):
    img = make_image("app")
    outputs = []
    for n, umask in ((1, 0o022), (2, 0o077)):
        old = os.umask(umask)
        try:
            write_oci_archive(tmp_path / f"o{n}.tar", img, [REF])
            write_docker_archive(tmp_path / f"d{n}.tar", img, [REF])
        finally:
            os.umask(old)
        outputs.append(((tmp_path / f"o{n}.tar").read_bytes(), (tmp_path / f"d{n}.tar").read_bytes()))
    assert outputs[0] == outputs[1]


def test_interrupted_write_leaves_nothing(tmp_path, make_image, monkeypatch):
    img = make_image("app")
    dest = tmp_path / "out.tar"
    dest.write_bytes(b"previous")
    calls = {"n": 0}

    import leango.oci.blob as blob_module
    original = blob_module.Blob.open

    def failing_open(self):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return original(self)
    monkeypatch.setattr(blob_module.Blob, "open", failing_open)
    with pytest.raises(ArchiveError, match="disk full"):
        write_oci_archive(dest, img, [REF])
    assert dest.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_concurrent_writers_lose_no_tag(tmp_path, make_image):
    import multiprocessing
    layout = tmp_path / "layout"
    img = make_image("app")
    write_layout(layout, img, ["localhost/x:seed"])
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_tags, args=(layout, img, w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    index = json.loads((layout / "index.json").read_bytes())
    names = {m["annotations"][REF_NAME] for m in index["manifests"]}
    assert names == {"localhost/x:seed"} | {f"localhost/x:w{w}-{i}" for w in range(3) for i in range(15)}


def _write_tags(layout, img, worker):
    for i in range(15):
        write_layout(layout, img, [f"localhost/x:w{worker}-{i}"])


def test_corrupt_existing_blob_is_replaced(tmp_path, make_image):
    layout = tmp_path / "layout"
    img = make_image("app")
    write_layout(layout, img, [REF])
    victim = layout / "blobs" / "sha256" / img.layers[1].digest.hex
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))
    write_layout(layout, img, [REF])
    check_layout(layout)


@pytest.mark.parametrize("data,ok", [(b"hello", True), (b"HELLO", False), (b"hell", False)])
def test_a_layout_never_holds_a_blob_whose_bytes_are_not_its_digest(tmp_path, data, ok):
    """Same size, other bytes (a size-only check would take them); fewer bytes; the right ones."""
    from leango.oci import Digest
    from leango.oci.blob import Blob
    from leango.oci.descriptor import Descriptor
    from leango.oci.errors import DigestMismatch
    from leango.oci.sinks.layout import blob_path, write_blob
    blob = Blob(Descriptor("application/octet-stream", Digest.of_bytes(b"hello"), 5), data=data)
    if ok:
        write_blob(tmp_path, blob)
        assert blob_path(tmp_path, blob.digest).read_bytes() == b"hello"
    else:
        with pytest.raises(DigestMismatch):
            write_blob(tmp_path, blob)
        assert not blob_path(tmp_path, blob.digest).exists()
        assert [p for p in tmp_path.rglob("*") if p.is_file()] == []  # no temporary file left either
