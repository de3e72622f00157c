"""Round-trip and invariant properties (hypothesis): tar normalisation, canonical JSON, digests."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

from hypothesis import given, settings
from hypothesis import strategies as st

from leango.oci.canonical import canonical_json
from leango.oci.digest import Digest
from leango.oci.tarfs import DIR, TarEntry, bytes_entry, write_tar

PROPS = settings(max_examples=150, deadline=None)
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=8)
paths = st.lists(names, min_size=1, max_size=4).map("/".join)


def _tar(entries, mtime=0) -> bytes:
    out = io.BytesIO()
    write_tar(out, entries, mtime=mtime)
    return out.getvalue()


def _entries(files: dict[str, bytes]) -> list[TarEntry]:
    # a path that is another's parent becomes a directory, as in a real tree
    dirs = {p.rsplit("/", 1)[0] for p in files if "/" in p}
    dirs |= {"/".join(d.split("/")[:i]) for d in set(dirs) for i in range(1, d.count("/") + 1)}
    return [TarEntry(p, DIR, 0o755) if p in dirs else bytes_entry(p, data) for p, data in files.items()]


@PROPS
@given(st.dictionaries(paths, st.binary(max_size=64), min_size=1, max_size=8), st.randoms(), st.integers(0, 8**11 - 1))
def test_tar_is_sorted_normalised_and_the_same_bytes_in_any_order(files, rnd, mtime):
    entries = _entries(files)
    shuffled = list(entries)
    rnd.shuffle(shuffled)
    raw = _tar(entries, mtime)
    assert raw == _tar(shuffled, mtime)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = tar.getmembers()
        names_out = [m.name for m in members]
        assert names_out == sorted(names_out)
        for m in members:
            assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", mtime) and not m.pax_headers
            if m.isfile() and m.name in files:
                assert tar.extractfile(m).read() == files[m.name]
        # every parent directory is present
        present = set(names_out)
        assert all(n.rsplit("/", 1)[0] in present for n in names_out if "/" in n)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=10),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4), max_leaves=25)


@PROPS
@given(json_values)
def test_canonical_json_round_trips_and_is_a_fixed_point(value):
    raw = canonical_json(value)
    assert json.loads(raw) == value
    assert canonical_json(json.loads(raw)) == raw
    assert b"\n" not in raw and b": " not in raw


@PROPS
@given(st.lists(st.binary(max_size=3000), max_size=6))
def test_streamed_digest_equals_whole_digest(chunks):
    data = b"".join(chunks)
    digest, size = Digest.of_stream(io.BytesIO(data))
    assert digest == Digest.of_bytes(data) and size == len(data)
    assert digest.hex == hashlib.sha256(data).hexdigest() and Digest.parse(str(digest)) == digest





def test_the_largest_ustar_time_and_one_past_it():
    import pytest

    from leango.builder.errors import SpecError
    from leango.builder.spec import parse_epoch
    from leango.oci.errors import TarError
    from leango.oci.tarfs import MAX_MTIME
    assert _tar([bytes_entry("a", b"x")], MAX_MTIME)
    with pytest.raises(TarError, match="USTAR"):
        _tar([bytes_entry("a", b"x")], MAX_MTIME + 1)
    assert parse_epoch(str(MAX_MTIME)) == MAX_MTIME
    from pathlib import Path

    from leango.builder import BuildSpec
    from leango.builder.platform import host_platform
    with pytest.raises(SpecError, match="SOURCE_DATE_EPOCH"):
        BuildSpec(sources=(".",), cache_dir=Path("/tmp"), platforms=(host_platform(),), source_date_epoch=MAX_MTIME + 1)


# -- references: format then parse gives the same value -----------------------------------------

_alnum = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
_component = st.builds(lambda a, sep, b: a + sep + b if sep is not None else a,
                       _alnum, st.sampled_from([None, ".", "_", "__", "-", "--"]), _alnum)
_host = st.builds(lambda labels, port: ".".join(labels) + (f":{port}" if port else ""),
                  st.lists(_alnum, min_size=2, max_size=3), st.one_of(st.none(), st.integers(1, 65535)))
_tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_digests = st.binary(min_size=1, max_size=8).map(Digest.of_bytes)


@PROPS
@given(_host, st.lists(_component, min_size=1, max_size=4), st.one_of(st.just(""), _tag),
       st.one_of(st.none(), _digests))
def test_reference_format_then_parse_round_trips(host, components, tag, digest):
    from leango.oci.reference import Reference, parse_reference
    ref = Reference(host, "/".join(components), tag, digest)
    if not tag and digest is None:
        ref = Reference(host, ref.repository, "latest")
    assert parse_reference(str(ref)) == ref
    assert str(parse_reference(str(ref))) == str(ref)
