"""The Go build cache as chunks: packing, reuse, boundaries, the key, and what unpack refuses."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tarfile
import threading

import pytest
import zstandard

from leango.builder import cacheremote, gocache
from leango.builder.gocache import CacheError, CacheKey, Store, pack, unpack
from support.gocache import entry_name, fill


def chunk_names(blob) -> list[str]:
    with blob.open() as f, tarfile.open(fileobj=zstandard.ZstdDecompressor().stream_reader(f), mode="r|") as t:
        return [m.name for m in t if m.isreg()]


def zchunk(members: list[tuple[tarfile.TarInfo, bytes]]) -> io.BytesIO:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if data else None)
    return io.BytesIO(zstandard.ZstdCompressor().compress(raw.getvalue()))


def regular(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def test_entries_are_the_go_cache_files_only(tmp_path):
    names = fill(tmp_path, ["a", "b"]) + fill(tmp_path, ["c"], kind="a")
    (tmp_path / "README").write_text("go cache")
    (tmp_path / "trim.txt").write_text("1")
    (tmp_path / names[0][:2] / "stray-file").write_text("x")
    os.symlink(tmp_path / names[0], tmp_path / names[0][:2] / ("f" * 64 + "-d"))
    found = gocache.entries(tmp_path)
    assert sorted(found) == sorted(names)
    # Every entry carries its content's hash, outputs (-d) too: a name alone does not say the bytes.
    assert all(found[n].startswith(n + "@") and len(found[n]) == len(n) + 17 for n in names)


def test_pack_then_unpack_restores_every_entry_byte_for_byte(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    names = fill(src, [f"e{i}" for i in range(300)]) + fill(src, ["act1", "act2"], kind="a")
    chunks = pack(src, Store(tmp_path / "store"))
    assert len(chunks) > 1  # 302 names cut at ~1 in 64
    assert sorted(n for c in chunks for n in chunk_names(c)) == sorted(names)
    for chunk in chunks:
        with chunk.open() as f:
            unpack(f, dst)
    for name in names:
        assert (dst / name).read_bytes() == (src / name).read_bytes()


def test_pack_is_deterministic(tmp_path):
    src = tmp_path / "src"
    fill(src, [f"e{i}" for i in range(200)])
    one = [c.digest for c in pack(src, Store(tmp_path / "s1"))]
    os.utime(src / entry_name("e3"), (1, 1))  # the file's time is not content
    two = [c.digest for c in pack(src, Store(tmp_path / "s2"))]
    assert one == two


def test_a_new_entry_changes_one_chunk_and_the_others_are_reused(tmp_path):
    src = tmp_path / "src"
    fill(src, [f"e{i}" for i in range(400)])
    store = Store(tmp_path / "store")
    before = {c.digest for c in pack(src, store)}
    fill(src, ["a-new-one"])
    after = {c.digest for c in pack(src, Store.open(store.root))}
    assert len(after - before) == 1
    assert len(before - after) == 0  # reused as they were: the registry already has them


def test_a_rewritten_action_entry_is_not_served_from_the_old_chunk(tmp_path):
    src = tmp_path / "src"
    fill(src, [f"e{i}" for i in range(50)])
    (action,) = fill(src, ["act"], kind="a")
    store = Store(tmp_path / "store")
    before = {c.digest for c in pack(src, store)}
    (src / action).write_bytes(b"rewritten by go")
    chunks = pack(src, Store.open(store.root))
    holding = [c for c in chunks if action in chunk_names(c)]
    assert len(holding) == 1 and holding[0].digest not in before
    with holding[0].open() as f:
        unpack(f, tmp_path / "dst")
    assert (tmp_path / "dst" / action).read_bytes() == b"rewritten by go"


def test_trimmed_entries_leave_the_cache(tmp_path):
    src = tmp_path / "src"
    names = fill(src, [f"e{i}" for i in range(200)])
    store = Store(tmp_path / "store")
    pack(src, store)
    (src / names[7]).unlink()  # go's trim removed it
    chunks = pack(src, Store.open(store.root))
    assert names[7] not in {n for c in chunks for n in chunk_names(c)}
    assert len({n for c in chunks for n in chunk_names(c)}) == 199
    assert sorted(p.name for p in (store.root / "blobs").iterdir()) == sorted(
        str(c.digest).replace(":", "-") for c in chunks)  # chunks no longer used are deleted


def test_too_many_chunks_are_repacked_once(tmp_path, monkeypatch):
    monkeypatch.setattr(gocache, "MAX_CHUNKS", 3)
    src = tmp_path / "src"
    store = Store(tmp_path / "store")
    for round_ in range(4):  # each round adds a chunk's worth of new entries next to the reused ones
        fill(src, [f"r{round_}-{i}" for i in range(5)])
        chunks = pack(src, Store.open(store.root))
    assert len(chunks) <= 3
    assert len({n for c in chunks for n in chunk_names(c)}) == 20


def test_a_large_run_of_files_is_cut_by_size(tmp_path, monkeypatch):
    monkeypatch.setattr(gocache, "BOUNDARY_ONE_IN", 10**9)  # no name boundary at all
    monkeypatch.setattr(gocache, "MAX_CHUNK_BYTES", 1000)
    src = tmp_path / "src"
    fill(src, [f"e{i}" for i in range(30)], size=300)
    chunks = pack(src, Store(tmp_path / "store"))
    # files of 320 bytes: the fourth brings a chunk to 1280 >= 1000 and ends it
    assert [len(chunk_names(c)) for c in chunks] == [4] * 7 + [2]


def test_unpack_keeps_an_existing_entry(tmp_path):
    name = entry_name("x")
    (tmp_path / name).parent.mkdir(parents=True)
    (tmp_path / name).write_bytes(b"mine")
    unpack(zchunk([regular(name, b"theirs")]), tmp_path)
    assert (tmp_path / name).read_bytes() == b"mine"


def test_a_kept_local_output_is_pushed_as_it_is_not_as_pulled(tmp_path):
    """A pulled output (-d) kept beside a different local one of the same name: the chunk that
    held the pulled bytes is not reused for the push; the local bytes are packed."""
    name = entry_name("x")  # an output entry
    cache, store = tmp_path / "cache", Store.open(tmp_path / "store")
    (cache / name).parent.mkdir(parents=True)
    (cache / name).write_bytes(b"local bytes")
    pulled = zchunk([regular(name, b"pulled bytes")])
    digest = "sha256:" + __import__("hashlib").sha256(pulled.getvalue()).hexdigest()
    store.blob_path(digest).parent.mkdir(parents=True, exist_ok=True)
    store.blob_path(digest).write_bytes(pulled.getvalue())
    store.chunks[digest] = unpack(pulled, cache).idents
    (chunk,) = pack(cache, store)
    assert str(chunk.digest) != digest  # not the pulled chunk
    with chunk.open() as f, tarfile.open(fileobj=zstandard.ZstdDecompressor().stream_reader(f), mode="r|") as t:
        member = next(m for m in t if m.isreg())
        assert t.extractfile(member).read() == b"local bytes"


@pytest.mark.parametrize("member,why", [
    (regular("../" + entry_name("x")), "not a Go build cache entry"),
    (regular("/" + entry_name("x")), "not a Go build cache entry"),
    (regular(entry_name("x")[:-2] + "-z"), "not a Go build cache entry"),
    (regular("README"), "not a Go build cache entry"),
    (regular("ab/" + "c" * 64 + "-d"), "not a Go build cache entry"),  # the directory is not the hash's
], ids=["dotdot", "absolute", "bad-suffix", "other-file", "wrong-directory"])
def test_unpack_refuses_what_is_not_a_cache_entry(tmp_path, member, why):
    with pytest.raises(CacheError, match=why):
        unpack(zchunk([member]), tmp_path / "cache")
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_unpack_refuses_links_and_devices(tmp_path):
    link = tarfile.TarInfo(entry_name("x"))
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(CacheError, match="not a Go build cache entry"):
        unpack(zchunk([(link, b"")]), tmp_path)
    assert not (tmp_path / entry_name("x")).exists()


def test_unpack_refuses_what_is_not_zstd_tar(tmp_path):
    with pytest.raises(CacheError, match="not a zstd-compressed tar"):
        unpack(io.BytesIO(b"not zstd at all"), tmp_path)


def test_key_annotations_and_mismatch():
    key = CacheKey("go1.26.8", "linux/amd64", ("linux/amd64", "linux/arm64"))
    same = dict(key.annotations())
    assert same == {"dev.leango.cache.go-version": "go1.26.8", "dev.leango.cache.host": "linux/amd64",
                    "dev.leango.cache.platforms": "linux/amd64,linux/arm64"}
    assert key.mismatch(same) == ""
    assert CacheKey("go1.26.8", "linux/amd64", ("linux/arm64",)).mismatch(same) == ""  # a subset may use it
    assert key.mismatch(same | {"dev.leango.cache.go-version": "go1.25.0"}) == \
        "made by go1.25.0, this build uses go1.26.8"
    assert key.mismatch(same | {"dev.leango.cache.host": "linux/arm64"}) == \
        "made on linux/arm64, this build runs on linux/amd64"
    assert key.mismatch(same | {"dev.leango.cache.platforms": "linux/amd64"}) == \
        "made for linux/amd64, not for linux/arm64"
    assert key.mismatch({}) == "made by an unknown toolchain, this build uses go1.26.8"


def test_cache_to_needs_a_tag():
    from leango.oci import OciError, parse_reference
    with pytest.raises(OciError, match="give a tag"):
        gocache.RemoteCache(cache_to=parse_reference("localhost:5000/cache@sha256:" + "a" * 64))


class _Waiting(logging.Handler):
    """Sets an event when the store says it waits for another process."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("waiting for another leango process"):
            self.seen.set()


def test_two_runs_sharing_a_store_take_turns_and_keep_each_others_chunks(tmp_path):
    """Run A has written new chunks it has yet to push; run B, sharing the cache dir, would
    delete every chunk its own index does not name. B waits for A, then reads A's index."""
    src, root = tmp_path / "src", tmp_path / "store"
    fill(src, [f"e{i}" for i in range(50)])
    waiting = _Waiting()
    logger = logging.getLogger("leango.builder.locks")
    logger.addHandler(waiting)
    level, logger.level = logger.level, logging.INFO
    errors: list[BaseException] = []

    def run_b() -> None:
        try:
            with Store.locked(root) as b:
                b.save()
        except Exception as exc:  # noqa: BLE001 -- reported by the main thread
            errors.append(exc)

    try:
        with Store.locked(root) as a:
            chunks = pack(src, a)
            b_thread = threading.Thread(target=run_b)
            b_thread.start()
            assert waiting.seen.wait(20), "run B did not wait for run A's lock"
            assert all(a.blob_path(str(c.digest)).is_file() for c in chunks)  # what A pushes now
        b_thread.join()
    finally:
        logger.removeHandler(waiting)
        logger.setLevel(level)
    assert not errors
    assert all(Store.open(root).blob_path(str(c.digest)).is_file() for c in chunks)
    assert sorted(Store.open(root).chunks) == sorted(str(c.digest) for c in chunks)


KEY = CacheKey("go1.27.3", "linux/amd64", ("linux/amd64",))


def _entries(build_cache) -> list[str]:
    return sorted(str(p.relative_to(build_cache)) for p in build_cache.rglob("*") if p.is_file())


def test_a_refused_chunk_leaves_nothing_of_itself(tmp_path):
    """Entries before the bad member are not moved in: the chunk goes in whole or not at all."""
    good = [regular(entry_name(f"g{i}")) for i in range(3)]
    bad = zchunk([*good, regular("../../etc/evil", b"x")])
    with pytest.raises(CacheError, match="not a Go build cache entry"):
        unpack(bad, tmp_path / "cache")
    assert _entries(tmp_path / "cache") == []
    ok = unpack(zchunk(good), tmp_path / "cache")
    assert ok.added == 3 and _entries(tmp_path / "cache") == sorted(entry_name(f"g{i}") for i in range(3))


def test_a_chunk_is_bounded_in_entries(tmp_path, monkeypatch):
    monkeypatch.setattr(gocache, "MAX_CHUNK_FILES", 4)
    many = zchunk([regular(entry_name(f"m{i}")) for i in range(4 + 256 + 1)])
    with pytest.raises(CacheError, match="more than 4 entries"):
        unpack(many, tmp_path / "cache")
    assert _entries(tmp_path / "cache") == []
    assert unpack(zchunk([regular(entry_name(f"m{i}")) for i in range(4)]), tmp_path / "cache").added == 4


def test_a_chunk_is_bounded_in_bytes_headers_included(tmp_path, monkeypatch):
    monkeypatch.setattr(gocache, "MAX_CHUNK_UNPACKED", 64 * 1024)
    info = tarfile.TarInfo(entry_name("p"))
    info.pax_headers = {"comment": "x" * 200_000}  # a pax header tarfile would hold whole
    data = b"y" * 10
    info.size = len(data)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(CacheError, match="unpacks to more than"):
        unpack(io.BytesIO(zstandard.ZstdCompressor().compress(buf.getvalue())), tmp_path / "cache")
    assert unpack(zchunk([regular(entry_name("small"), b"z" * 1000)]), tmp_path / "cache").added == 1


def test_a_full_disk_skips_the_chunk_in_one_line(tmp_path, monkeypatch):
    real_open = open

    def full(path, mode="r", *a, **kw):
        if "x" in mode:
            raise OSError(28, "No space left on device")
        return real_open(path, mode, *a, **kw)
    monkeypatch.setattr("builtins.open", full)
    with pytest.raises(CacheError, match="cannot unpack a cache chunk: No space left on device"):
        unpack(zchunk([regular(entry_name("d"))]), tmp_path / "cache")
    monkeypatch.undo()
    assert _entries(tmp_path / "cache") == []


def test_a_chunk_declaring_an_impossible_size_is_refused_before_download():
    from leango.oci import Digest
    from leango.oci.descriptor import Descriptor
    huge = Descriptor(gocache.CHUNK_TYPE, Digest.of_bytes(b"x"), 1 << 50)
    doc = {"schemaVersion": 2, "artifactType": gocache.ARTIFACT_TYPE, "layers": [huge.to_json()],
           "annotations": dict(KEY.annotations())}
    import json

    from leango.oci import parse_reference
    with pytest.raises(CacheError, match="declares 1125899906842624 bytes"):
        cacheremote._cache_layers(json.dumps(doc).encode(), parse_reference("r.example/c:go"), KEY)
    ok = Descriptor(gocache.CHUNK_TYPE, Digest.of_bytes(b"x"), 1)
    empty = Descriptor(gocache.CHUNK_TYPE, Digest.of_bytes(b""), 0)  # nothing in it, but not a lie
    doc["layers"] = [ok.to_json(), empty.to_json()]
    assert cacheremote._cache_layers(json.dumps(doc).encode(), parse_reference("r.example/c:go"), KEY) == [ok, empty]


def test_mismatch_names_what_is_missing():
    key = CacheKey("go1.26.8", "linux/amd64", ("linux/amd64", "linux/arm64"))
    base = {"dev.leango.cache.go-version": "go1.26.8"}
    assert key.mismatch(base) == "made on an unknown host, this build runs on linux/amd64"
    with_host = base | {"dev.leango.cache.host": "linux/amd64"}
    assert key.mismatch(with_host) == "made for no platform, not for linux/amd64, linux/arm64"
    assert key.mismatch(with_host | {"dev.leango.cache.platforms": "linux/s390x,,linux/386"}) == \
        "made for linux/386, linux/s390x, not for linux/amd64, linux/arm64"


def test_a_link_or_a_stray_file_does_not_end_the_walk(tmp_path):
    names = fill(tmp_path, ["one", "two", "three"])
    sub = tmp_path / names[0][:2]
    # In the first entry's directory, a link and a stray file sorting before it: skipped, not the end.
    os.symlink(tmp_path / names[0], sub / (names[0][:2] + "0" * 62 + "-d"))
    (sub / "0-stray").write_text("x")
    assert sorted(gocache.entries(tmp_path)) == sorted(names)


def _cuts_after(name: str) -> bool:
    """The documented boundary: the name's SHA-256, first four bytes big-endian, is 0 mod 64."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % 64 == 0


def test_chunks_end_exactly_at_the_boundary_names():
    names = sorted(entry_name(f"n{i}") for i in range(2000))
    chunks = list(gocache.boundaries(names))
    assert [n for c in chunks for n in c] == names
    assert sum(map(_cuts_after, names)) >= 10  # the rule is exercised, many times
    for chunk in chunks[:-1]:
        assert _cuts_after(chunk[-1]) and not any(map(_cuts_after, chunk[:-1]))


def test_a_chunk_holds_at_most_max_files(monkeypatch):
    monkeypatch.setattr(gocache, "BOUNDARY_ONE_IN", 10**9)
    monkeypatch.setattr(gocache, "MAX_CHUNK_FILES", 3)
    names = [entry_name(f"m{i}") for i in range(7)]
    assert [len(c) for c in gocache.boundaries(names)] == [3, 3, 1]


@pytest.mark.parametrize("limit,sizes", [(960, [3] * 10), (961, [4] * 7 + [2])])
def test_a_chunk_ends_when_its_bytes_reach_the_limit(tmp_path, monkeypatch, limit, sizes):
    monkeypatch.setattr(gocache, "BOUNDARY_ONE_IN", 10**9)
    monkeypatch.setattr(gocache, "MAX_CHUNK_BYTES", limit)
    src = tmp_path / "src"
    names = fill(src, [f"e{i}" for i in range(30)], size=300)
    assert {(src / n).stat().st_size for n in names} == {320}
    assert [len(c) for c in gocache._cut(src, sorted(names))] == sizes


def test_exactly_max_chunks_are_reused_not_repacked(tmp_path, monkeypatch):
    monkeypatch.setattr(gocache, "BOUNDARY_ONE_IN", 10**9)
    monkeypatch.setattr(gocache, "MAX_CHUNK_FILES", 2)
    src, store = tmp_path / "src", Store(tmp_path / "store")
    fill(src, ["a", "b", "c", "d"])
    first = {b.digest for b in pack(src, Store.open(store.root))}
    assert len(first) == 2
    monkeypatch.setattr(gocache, "MAX_CHUNKS", 3)
    fill(src, ["zz-new"])  # one more chunk: 3 in all, at the limit
    second = {b.digest for b in pack(src, Store.open(store.root))}
    assert first < second and len(second) == 3


def test_a_failed_chunk_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    src = tmp_path / "src"
    fill(src, ["a"])

    def broken(out, entries, **kw):
        out.write(b"partial")
        raise OSError("disk went away")
    monkeypatch.setattr(gocache, "write_tar", broken)
    store = Store(tmp_path / "store")
    with pytest.raises(OSError, match="disk went away"):
        pack(src, store)
    assert list((store.root / "blobs").iterdir()) == []


def test_a_chunk_is_titled_by_its_first_entry(tmp_path):
    src = tmp_path / "src"
    names = fill(src, ["x", "y"])
    (chunk,) = pack(src, Store(tmp_path / "store"))
    assert dict(chunk.descriptor.annotations)["org.opencontainers.image.title"] == \
        f"go-build-{min(names).replace('/', '')[:16]}.tar.zst"


def directory(name: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info, b""


def test_the_member_bound_counts_the_256_directories_exactly(tmp_path, monkeypatch):
    monkeypatch.setattr(gocache, "MAX_CHUNK_FILES", 4)
    dirs = [directory(f"{i:02x}") for i in range(256)]
    files = [regular(entry_name(f"b{i}")) for i in range(4)]
    assert unpack(zchunk(dirs + files), tmp_path / "ok").added == 4  # 260 members: at the bound
    with pytest.raises(CacheError, match="more than 4 entries"):
        unpack(zchunk(dirs + files + [regular(entry_name("b4"))]), tmp_path / "over")


def test_a_file_named_like_a_directory_is_refused(tmp_path):
    with pytest.raises(CacheError, match="holds 'ab', which is not a Go build cache entry"):
        unpack(zchunk([regular("ab")]), tmp_path / "cache")
    assert unpack(zchunk([directory("ab"), regular(entry_name("k"))]), tmp_path / "cache").added == 1


def test_an_entry_of_exactly_the_largest_size_is_taken(tmp_path, monkeypatch):
    monkeypatch.setattr(gocache, "MAX_ENTRY_BYTES", 1000)
    name = entry_name("big")
    assert unpack(zchunk([regular(name, b"e" * 1000)]), tmp_path / "ok").added == 1
    with pytest.raises(CacheError) as err:
        unpack(zchunk([regular(name, b"e" * 1001)]), tmp_path / "over")
    assert str(err.value) == f"a cache chunk entry {name} claims 1001 bytes"


def test_entries_are_written_read_only_for_others(tmp_path):
    name = entry_name("mode")
    unpack(zchunk([regular(name, b"m")]), tmp_path / "cache")
    assert (tmp_path / "cache" / name).stat().st_mode & 0o777 == 0o644


def test_unpack_makes_the_cache_directory_and_its_parents(tmp_path):
    cache = tmp_path / "a" / "b" / "go-build"
    assert unpack(zchunk([regular(entry_name("deep"))]), cache).added == 1
    assert [p.name for p in cache.iterdir()] == [entry_name("deep")[:2]]  # the staging directory is gone


def test_staging_happens_inside_the_cache_directory(tmp_path, monkeypatch):
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-tmp"))  # only the cache may be used
    assert unpack(zchunk([regular(entry_name("here"))]), tmp_path / "cache").added == 1


def test_a_staging_directory_that_cannot_be_made_skips_the_chunk_in_one_line(tmp_path, monkeypatch):
    import tempfile

    def full(*a, **kw):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(tempfile, "mkdtemp", full)
    with pytest.raises(CacheError) as err:
        unpack(zchunk([regular(entry_name("d"))]), tmp_path / "cache")
    assert str(err.value) == "cannot unpack a cache chunk: No space left on device"


def test_the_bounded_reader_gives_exactly_its_limit():
    bounded = gocache._Bounded(io.BytesIO(b"x" * 10), 10)
    assert bounded.read(0) == b""
    assert bounded.read() == b"x" * 10  # the whole limit, in one read, no error
    assert bounded.read() == b""
    with pytest.raises(CacheError, match="unpacks to more than"):
        gocache._Bounded(io.BytesIO(b"x" * 11), 10).read()
    step = gocache._Bounded(io.BytesIO(b"x" * 10), 10)
    assert step.read(4) == b"xxxx" and step.read(6) == b"xxxxxx"
    with pytest.raises(CacheError):
        gocache._Bounded(io.BytesIO(b"x" * 11), 10).read(11)
