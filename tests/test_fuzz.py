"""Fuzzing the parsers that read untrusted text, with hypothesis, seeded from real inputs.

Each parser may only answer with its package's own error, never a crash. CI runs a bounded
number of examples; set LEANGO_FUZZ_EXAMPLES (e.g. 20000) to run longer by hand.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import urllib.parse

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from leango.builder.elf import read_elf
from leango.builder.errors import NotStaticError
from leango.oci.descriptor import Descriptor
from leango.oci.errors import InvalidReference, LayoutError, OciError, RegistryError, TarError
from leango.oci.reference import parse_reference
from leango.oci.registry import credentials, guard
from leango.oci.registry.auth import parse_challenges
from leango.oci.registry.httputil import error_entries, retry_after
from leango.oci.sinks.layout import read_index
from leango.oci.tarfs import normalise_path

FUZZ = settings(max_examples=int(os.environ.get("LEANGO_FUZZ_EXAMPLES", "300")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

REFERENCES = ["localhost:5000/hello:v1", "docker.io/library/alpine", "r.io/a/b@sha256:" + "a" * 64,
              "[::1]:5000/x:y", "ghcr.io/o/r:1.2.3"]
CHALLENGES = ['Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a:pull"',
              'Basic realm="registry"', 'Bearer realm="x", error="insufficient_scope"', "Negotiate, Basic realm=x"]
TARGETS = ["https://auth.example.com/token", "http://127.1/", "https://[fe80::1]/x", "https://0x7f.1/",
           "http://[::1/x", "https://metadata.google.internal/"]
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.text(max_size=12), children, max_size=4), max_leaves=20)


def _mutated(seeds: list[str]) -> st.SearchStrategy[str]:
    def mutate(seed: str, cut: int, insert: str) -> str:
        cut %= len(seed) + 1
        return seed[:cut] + insert + seed[cut:]
    return st.sampled_from(seeds) | st.builds(mutate, st.sampled_from(seeds), st.integers(0, 200),
                                              st.text(max_size=8)) | st.text(max_size=80)


@FUZZ
@given(_mutated(REFERENCES))
def test_reference_parser(text):
    try:
        ref = parse_reference(text)
    except InvalidReference:
        return
    assert parse_reference(str(ref)) == ref


@FUZZ
@given(_mutated(CHALLENGES))
def test_www_authenticate_parser(header):
    for challenge in parse_challenges(header):
        assert challenge.scheme == challenge.scheme.lower()


class _Response:
    def __init__(self, headers):
        self.headers = headers


@FUZZ
@given(_mutated(["120", "Wed, 21 Oct 2015 07:28:00 GMT", "0", "1.5"]))
@example("soon")
@example("٣")
@example("nan")
@example("inf")
def test_retry_after_header(value):
    seconds = retry_after(_Response({"Retry-After": value}))
    assert seconds is None or seconds >= 0


@FUZZ
@given(st.binary(max_size=300) | st.builds(lambda v: json.dumps(v).encode(), json_values))
def test_error_body_parser(body):
    for entry in error_entries(body):
        assert "\x1b" not in entry.message + entry.code + entry.detail


@FUZZ
@given(_mutated(TARGETS))
def test_redirect_target_guard(monkeypatch, target):
    def no_dns(*_a, **_k):
        raise socket.gaierror("no DNS while fuzzing")
    monkeypatch.setattr(guard.socket, "getaddrinfo", no_dns)
    guard.resolve.cache_clear()
    try:
        guard.check_redirect_target("https://1.1.1.1", target, "token realm")
    except RegistryError:
        return
    # Accepted: https (no downgrade), and never a link-local or metadata address.
    split = urllib.parse.urlsplit(target)
    assert split.scheme == "https", target
    assert not (split.hostname or "").startswith("169.254."), target


@FUZZ
@given(st.binary(max_size=400) | st.builds(lambda v: json.dumps(v).encode(), json_values))
def test_index_json_reader(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("layout")
    (root / "index.json").write_bytes(data)
    try:
        entries = read_index(root)
    except LayoutError:
        return
    # Accepted: one descriptor per listed manifest, each a well-formed one that round-trips.
    assert len(entries) == len(json.loads(data).get("manifests") or [])
    assert all(Descriptor.from_json(d.to_json()) == d for d in entries)


@FUZZ
@given(json_values | st.fixed_dictionaries({"auths": st.dictionaries(
    st.sampled_from(["r.io", "r.io/team", "https://r.io/v1/", "r.io/team/app"]), json_values)}))
@example({"auths": {"r.io": {"auth": "!!!"}}})
@example({"auths": {"r.io": {"auth": "dXNlcg=="}}})
@example({"credHelpers": {"r.io": 5}, "auths": []})
@example({"auths": {"r.io": {"auth": 5}}})
@example({"auths": {"r.io/team": {"identitytoken": ["x"]}}})
@example({"auths": {"https://r.io/v1/": {"username": {"a": 1}, "password": 2}}})
@example({"credsStore": 5})
@example({"auths": {"r.io": {"registrytoken": 7}}})
@example([1, 2])
def test_docker_config_and_auth_json_reader(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("cfg") / "config.json"
    path.write_text(json.dumps(data))

    def no_helper(argv, stdin):
        raise FileNotFoundError(argv[0])
    try:
        cred = credentials.resolve(credentials.CredentialSources((path,), path), "r.io", "team/app", run=no_helper)
    except RegistryError as exc:
        assert "dXNlcg" not in str(exc)  # an error names the entry, never its secret
        return
    # Accepted: strings only, and the secret never shows in its repr.
    assert all(isinstance(v, str) for v in (cred.username, cred.password, cred.identity_token, cred.registry_token))
    for secret in (cred.password, cred.identity_token, cred.registry_token):
        assert len(secret) < 3 or secret not in repr(cred)


def _elf_header(is64: bool, little: bool) -> bytes:
    end = "<" if little else ">"
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1 if little else 2, 1]) + bytes(9)
    if is64:
        return ident + struct.pack(end + "HHIQQQIHHHHHH", 2, 62, 1, 0, 64, 0, 0, 64, 56, 1, 64, 0, 0)
    return ident + struct.pack(end + "HHIIIIIHHHHHH", 2, 3, 1, 0, 52, 0, 0, 52, 32, 1, 40, 0, 0)


@FUZZ
@given(st.booleans(), st.booleans(), st.binary(max_size=600), st.integers(0, 600))
def test_elf_reader(tmp_path_factory, is64, little, noise, cut):
    data = (_elf_header(is64, little) + noise)[:max(cut, 6)]
    path = tmp_path_factory.mktemp("elf") / "bin"
    path.write_bytes(data)
    try:
        info = read_elf(path)
    except NotStaticError:
        return
    # Accepted: the machine the header names (x86-64 for ELF64, i386 for ELF32 here).
    assert info.machine == (62 if is64 else 3)


@FUZZ
@given(_mutated(["usr/bin/app", "etc/ssl/certs/ca.crt", "a/../b", "/abs", ".wh.x", "a//b"]))
def test_tar_path_normaliser(path):
    try:
        clean = normalise_path(path)
    except TarError:
        return
    assert normalise_path(clean) == clean and ".." not in clean.split("/")


def test_the_fuzzers_see_errors_too():
    """The seeds include inputs each parser must refuse, so the error paths are exercised."""
    with pytest.raises(OciError):
        parse_reference("x/UPPER")
    with pytest.raises(RegistryError):
        guard.check_redirect_target("https://1.1.1.1", "http://127.1/", "token realm")


_ENTRY_HEX = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
_MEMBER_NAMES = st.one_of(
    st.builds(lambda h, k: f"{h[:2]}/{h}-{k}", _ENTRY_HEX, st.sampled_from("ad")),  # a Go cache entry
    st.sampled_from(["../x", "/etc/passwd", "ab", "ab/", "README", "ab/../../x", "./ab/c"]),
    st.text(max_size=40),
)
_MEMBERS = st.lists(st.tuples(_MEMBER_NAMES, st.sampled_from([b"", b"x", b"y" * 700]),
                              st.sampled_from(["file", "dir", "symlink", "fifo"])), max_size=12)


@FUZZ
@given(members=_MEMBERS, compress=st.sampled_from(["zstd", "gzip", "none"]), cut=st.integers(0, 64))
@example(members=[("ab/ab" + "0" * 62 + "-d", b"x", "file"), ("cd/cd" + "1" * 62 + "-a", b"y", "file")],
         compress="zstd", cut=0)  # a good chunk: taken whole
@example(members=[("ab/ab" + "0" * 62 + "-d", b"x", "file"), ("../x", b"y", "file")], compress="zstd", cut=0)
def test_fuzz_unpack_takes_a_whole_chunk_or_nothing_and_never_writes_outside(tmp_path_factory, members, compress,
                                                                              cut):
    """Any tar, any compression, cut anywhere: unpack either takes every entry or none, writes
    nothing outside the build cache, and answers only with CacheError."""
    import gzip
    import io
    import tarfile

    import zstandard

    from leango.builder.gocache import ENTRY, CacheError, unpack
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name or "x")
            info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                         "fifo": tarfile.FIFOTYPE}[kind]
            info.linkname = "/etc/passwd" if kind == "symlink" else ""
            info.size = len(data) if kind == "file" else 0
            tar.addfile(info, io.BytesIO(data) if kind == "file" else None)
    data = raw.getvalue()
    data = {"zstd": zstandard.ZstdCompressor().compress, "gzip": gzip.compress, "none": bytes}[compress](data)
    if cut:
        data = data[: max(0, len(data) - cut)]
    root = tmp_path_factory.mktemp("fuzz")
    cache = root / "cache"
    try:
        got = unpack(io.BytesIO(data), cache)
    except CacheError:
        got = None
    written = sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file()) if cache.exists() else []
    assert [p for p in root.iterdir() if p.name != "cache"] == []  # nothing beside the cache
    assert all(ENTRY.fullmatch(w) for w in written)  # nothing but cache entries, no staging left
    if got is None:
        assert written == []  # a refused chunk leaves nothing of itself
    else:
        assert len(written) == got.added and not any(p.is_symlink() for p in cache.rglob("*"))
        assert written == sorted(n for n, _, k in members if k == "file")
