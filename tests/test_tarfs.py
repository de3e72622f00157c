import io
import tarfile

import pytest

from leango.oci.errors import TarError
from leango.oci.tarfs import DIR, SYMLINK, TarEntry, bytes_entry, write_tar


def _file(path, data=b"x", mode=0o644):
    return bytes_entry(path, data, mode)


def _tar(entries, mtime=0) -> bytes:
    out = io.BytesIO()
    write_tar(out, entries, mtime=mtime)
    return out.getvalue()


def test_sorted_parents_added_and_normalised():
    raw = _tar([_file("z/b", b"bb"), _file("a/deep/c"), TarEntry("tmp", DIR, 0o1777)], mtime=1234)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["a", "a/deep", "a/deep/c", "tmp", "z", "z/b"]
    for m in members:
        assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", 1234)
        assert not m.pax_headers
    modes = {m.name: m.mode for m in members}
    assert modes["a"] == 0o755 and modes["tmp"] == 0o1777 and modes["z/b"] == 0o644


def test_headers_are_plain_ustar():
    raw = _tar([_file("etc/passwd")])
    for offset in range(0, len(raw) - 512, 512):
        header = raw[offset:offset + 512]
        if header[257:263] == b"ustar\x00":
            assert header[156:157] in (b"0", b"5")  # regular file or dir, never PAX 'x'/'g'


def test_same_input_same_bytes_whatever_the_order():
    a = _tar([_file("b"), _file("a/c")])
    b = _tar([_file("a/c"), _file("b")])
    assert a == b


@pytest.mark.parametrize("name", ["../x", "/etc/x", "a/../../x", "a/./b", "a//b", ".wh.x",
                                  "dir/.wh..wh..opq", "a\\b", ""])
def test_unsafe_names_refused_naming_the_entry(name):
    with pytest.raises(TarError) as err:
        _tar([_file(name)])
    assert repr(name) in str(err.value)


def test_duplicates_refused():
    with pytest.raises(TarError, match="duplicate"):
        _tar([_file("a"), _file("a/")])


@pytest.mark.parametrize("mode", [0o4755, 0o2755, 0o666, 0o1644])
def test_dangerous_file_modes_refused(mode):
    with pytest.raises(TarError):
        _tar([_file("bin", mode=mode)])


def test_file_cannot_be_parent():
    with pytest.raises(TarError, match="not a directory"):
        _tar([_file("a"), _file("a/b")])


def test_symlink_entry():
    raw = _tar([TarEntry("lib", SYMLINK, 0o777 & ~0o002, linkname="usr/lib")])
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        member = tar.getmember("lib")
    assert member.issym() and member.linkname == "usr/lib"


def test_negative_mtime_refused():
    with pytest.raises(TarError):
        _tar([_file("a")], mtime=-1)


def test_ownership_is_kept_per_entry():
    """uid/gid 0 by default, but an entry that asks for an owner keeps it (/home/nonroot)."""
    raw = _tar([TarEntry("home/nonroot", DIR, 0o755, uid=65532, gid=65532), _file("etc/passwd")])
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        owners = {m.name: (m.uid, m.gid) for m in tar.getmembers()}
    assert owners == {"etc": (0, 0), "etc/passwd": (0, 0), "home": (0, 0), "home/nonroot": (65532, 65532)}


@pytest.mark.parametrize("mode,ok", [(0o1777, True), (0o755, True), (0o1755, False), (0o777, False),
                                     (0o2755, False), (0o4755, False)])
def test_directory_sticky_exactly_when_world_writable(mode, ok):
    entries = [TarEntry("d", DIR, mode)]
    if ok:
        assert _tar(entries)
    else:
        with pytest.raises(TarError):
            _tar(entries)


@pytest.mark.parametrize("name", ["a/../b", "a/..", "../a", "./a", "a/./b"])
def test_dot_components_refused_anywhere(name):
    with pytest.raises(TarError):
        _tar([_file(name)])
