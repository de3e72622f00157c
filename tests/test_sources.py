"""Sources read what the sinks wrote: blobs of an archive read side by side (as parallel uploads
read them) each come whole and verified."""

from __future__ import annotations

from leango.oci.parsed import load
from leango.oci.sinks.archive import write_oci_archive
from leango.oci.sinks.layout import write_layout
from leango.oci.sources import ArchiveSource, LayoutSource, parse_location


def _read_in_threads(blobs, chunk=512):
    """Each blob read whole by a thread of its own, in small reads: as the parallel uploads of a
    push read them."""
    import threading
    out, errors = [b""] * len(blobs), []

    def read(i, blob):
        try:
            with blob.open() as r:
                while data := r.read(chunk):
                    out[i] += data
        except Exception as exc:  # noqa: BLE001 -- reported by the test
            errors.append(exc)
    threads = [threading.Thread(target=read, args=(i, b)) for i, b in enumerate(blobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out, errors


def test_archive_blobs_read_by_parallel_threads_each_verify(tmp_path, make_image):
    image = make_image()
    write_oci_archive(tmp_path / "a.tar", image, ["v1"])
    source = ArchiveSource(tmp_path / "a.tar")
    parsed = load(source, source.resolve("v1"), source.where)
    blobs = list(parsed.blobs())
    assert len(blobs) == 3
    for _ in range(6):  # a shared file handle mixes their bytes now and then: verification fails
        got, errors = _read_in_threads(blobs, chunk=256)
        assert errors == [] and [len(g) for g in got] == [b.size for b in blobs]
    assert parsed.raw == image.raw and parsed.digest == image.digest


def test_layout_and_archive_sources_agree(tmp_path, make_image):
    image = make_image()
    write_layout(tmp_path / "l", image, ["v1"])
    write_oci_archive(tmp_path / "a.tar", image, ["v1"])
    for source in (LayoutSource(tmp_path / "l"), ArchiveSource(tmp_path / "a.tar")):
        parsed = load(source, source.resolve("v1"), source.where)
        assert [b.open().read() for b in parsed.blobs()] == [b.open().read() for b in image.blobs()]


def test_locations_follow_skopeos_names():
    assert str(parse_location("oci:/x:localhost:5000/app:v1")) == "oci:/x:localhost:5000/app:v1"
    assert parse_location("oci:/x:localhost:5000/app:v1").ref == "localhost:5000/app:v1"
    assert parse_location("oci-archive:/a.tar").ref == ""
    assert parse_location("docker://r.example/app:v1").transport == "docker"
    assert parse_location("r.example/app:v1").path == "r.example/app:v1"
