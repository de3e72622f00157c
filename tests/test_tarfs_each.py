"""Tar normalisation: each rule with its exact message, both sides of each mode rule.
Written against the survivors of scripts/mutation (docs/testing.md)."""

from __future__ import annotations

import io
import tarfile

import pytest

from leango.oci.errors import TarError
from leango.oci.tarfs import DIR, FILE, MAX_MTIME, SYMLINK, TarEntry, bytes_entry, normalise_path, prepare, write_tar


def _refused(entries) -> str:
    with pytest.raises(TarError) as err:
        prepare(entries)
    return str(err.value)


@pytest.mark.parametrize("path,expected", [("a", "a"), ("a/b/", "a/b"), ("a/.b", "a/.b"), ("a..b/c", "a..b/c")])
def test_normalise_path(path, expected):
    assert normalise_path(path) == expected


@pytest.mark.parametrize("path", ["", "/a", "a\\b", "a\0b"])
def test_must_be_relative(path):
    with pytest.raises(TarError) as err:
        normalise_path(path)
    assert str(err.value) == f"unsafe tar entry name {path!r}: must be relative"


@pytest.mark.parametrize("path", ["a//b", "./a", "a/.", "a/../b", "..", "a/.."])
def test_bad_components(path):
    with pytest.raises(TarError) as err:
        normalise_path(path)
    assert str(err.value) == f"unsafe tar entry name {path!r}: empty, '.' or '..' component"


@pytest.mark.parametrize("path", [".wh.a", "a/.wh..wh..opq"])
def test_whiteouts(path):
    with pytest.raises(TarError) as err:
        normalise_path(path)
    assert str(err.value) == f"unsafe tar entry name {path!r}: whiteout names are reserved"


def test_mode_beyond_7777():
    assert _refused([TarEntry("a", FILE, 0o10644)]) == "a: mode 10644 has bits beyond 7777"


@pytest.mark.parametrize("mode", [0o4755, 0o2755, 0o6755])
def test_setuid_setgid(mode):
    assert _refused([TarEntry("a", FILE, mode)]) == "a: setuid/setgid bits are not allowed"


@pytest.mark.parametrize("kind,mode", [(FILE, 0o646), (FILE, 0o1644), (SYMLINK, 0o777)])
def test_world_writable_or_sticky_non_dirs(kind, mode):
    assert _refused([TarEntry("a", kind, mode, linkname="b")]) == "a: world-writable or sticky files are not allowed"


@pytest.mark.parametrize("mode,ok", [(0o1777, True), (0o755, True), (0o1755, False), (0o777, False),
                                     (0o1757, True), (0o757, False)])
def test_directory_sticky_exactly_when_world_writable(mode, ok):
    entries = [TarEntry("d", DIR, mode)]
    if ok:
        assert prepare(entries)[0].mode == mode
    else:
        assert _refused(entries) == (f"d: a directory is sticky exactly when it is world-writable (1777), "
                                     f"not {mode:o}")


def test_unsupported_kind():
    assert _refused([TarEntry("a", "fifo")]) == "a: unsupported entry kind 'fifo'"


def test_duplicate_after_normalisation():
    assert _refused([TarEntry("a/b", DIR, 0o755), TarEntry("a/b/", DIR, 0o755)]) == "duplicate tar entry 'a/b'"


def test_parent_not_a_directory():
    assert _refused([bytes_entry("a", b""), bytes_entry("a/b", b"")]) == "'a/b': parent 'a' is not a directory"


def test_missing_parents_added_and_sorted():
    out = prepare([bytes_entry("x/y/z", b"1"), TarEntry("a", DIR, 0o700)])
    assert [(e.path, e.kind, e.mode) for e in out] == [
        ("a", DIR, 0o700), ("x", DIR, 0o755), ("x/y", DIR, 0o755), ("x/y/z", FILE, 0o644)]


def test_tar_headers():
    out = io.BytesIO()
    write_tar(out, [TarEntry("d", DIR, 0o755, uid=1, gid=2), bytes_entry("d/f", b"data", 0o600),
                    TarEntry("d/l", SYMLINK, 0o777 & ~0o002, linkname="f")], mtime=5)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        members = tar.getmembers()
        assert [(m.name, m.type, m.mode, m.uid, m.gid, m.uname, m.gname, m.mtime, m.size, m.linkname)
                for m in members] == [
            ("d", tarfile.DIRTYPE, 0o755, 1, 2, "", "", 5, 0, ""),
            ("d/f", tarfile.REGTYPE, 0o600, 0, 0, "", "", 5, 4, ""),
            ("d/l", tarfile.SYMTYPE, 0o775, 0, 0, "", "", 5, 0, "f"),
        ]
        assert tar.extractfile("d/f").read() == b"data"
    assert out.getvalue()[:100].rstrip(b"\0") == b"d/"  # directory names end with '/'
    assert len(out.getvalue()) % 10240 == 0  # USTAR records


def test_file_without_opener_is_empty():
    out = io.BytesIO()
    write_tar(out, [TarEntry("f", FILE, 0o644)])
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        assert tar.extractfile("f").read() == b""


@pytest.mark.parametrize("mtime", [-1, MAX_MTIME + 1])
def test_mtime_bounds(mtime):
    with pytest.raises(TarError) as err:
        write_tar(io.BytesIO(), [], mtime=mtime)
    assert str(err.value) == f"mtime must be between 0 and {MAX_MTIME} (what a USTAR header holds), got {mtime}"


def test_mtime_at_the_bound():
    out = io.BytesIO()
    write_tar(out, [bytes_entry("f", b"")], mtime=MAX_MTIME)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        assert tar.getmembers()[0].mtime == MAX_MTIME == 8 ** 11 - 1


def test_name_too_long_for_ustar():
    with pytest.raises(TarError):
        write_tar(io.BytesIO(), [bytes_entry("a" * 101, b"")])
