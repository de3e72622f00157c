"""Tests written against the survivors of the third mutation run (docs/testing.md): each one
pins a behaviour a surviving mutant changed — exact messages, boundaries of the ELF reader,
defaults, file-system edge cases of credential storage, challenge parsing."""

from __future__ import annotations

import io
import os
import struct
import tarfile

import pytest
import zstandard
from test_elf import BASE, synth_elf

from leango.builder.elf import _Reader, check_static, read_elf
from leango.builder.errors import NotStaticError, SpecError
from leango.builder.platform import parse_platform
from leango.oci import Digest, Image, ImageConfig, Platform, parse_reference
from leango.oci.config import History
from leango.oci.errors import DigestError, InvalidReference, OciError, RegistryError, TarError
from leango.oci.layer import ZSTD_LEVEL, build_layer
from leango.oci.registry import credentials as creds
from leango.oci.registry.auth import parse_challenges
from leango.oci.registry.retry import RetryPolicy
from leango.oci.tarfs import DIR, FILE, TarEntry, bytes_entry, normalise_path, write_tar
from support.clock import Sleeps

# -- the ELF reader ---------------------------------------------------------------------------


def _reader(data: bytes) -> _Reader:
    return _Reader(io.BytesIO(data), len(data))


@pytest.mark.parametrize("offset,length", [(-1, 2), (0, -1), (8, 4), (11, 0)])
def test_reads_outside_the_file_are_refused(offset, length):
    reader = _reader(b"\x7fELF\x02\x01" + bytes(4))  # 10 bytes
    with pytest.raises(NotStaticError) as err:
        reader.read(offset, length)
    assert str(err.value) == "truncated or corrupt ELF file"


def test_a_file_that_shrinks_while_it_is_read_is_truncated():
    reader = _Reader(io.BytesIO(b"\x7fELF\x02\x01" + bytes(4)), 20)  # 10 bytes where 20 were seen
    with pytest.raises(NotStaticError) as err:
        reader.read(8, 4)
    assert str(err.value) == "truncated or corrupt ELF file"


def test_an_empty_read_at_the_end_is_empty():
    assert _reader(b"\x7fELF\x02\x01" + bytes(4)).read(10, 0) == b""


def test_a_six_byte_file_is_judged_by_its_magic():
    with pytest.raises(NotStaticError, match="^not an ELF executable$"):
        _reader(b"#!/bin")


def _elf(tmp_path, data: bytes):
    path = tmp_path / "app"
    path.write_bytes(data)
    return path


def _patch(data: bytes, offset: int, fmt: str, *values) -> bytes:
    packed = struct.pack(fmt, *values)
    return data[:offset] + packed + data[offset + len(packed):]


def test_machine_numbers_are_unsigned(tmp_path):
    path = _elf(tmp_path, synth_elf(is64=True, little=True, machine=0x9026))
    with pytest.raises(NotStaticError) as err:
        check_static(path, 62)
    assert str(err.value) == "app: built for 36902, expected x86-64 (amd64)"


@pytest.mark.parametrize("is64,phnum_at", [(True, 56), (False, 44)])
def test_a_huge_program_header_count_is_a_truncated_file(tmp_path, is64, phnum_at):
    """e_phnum 0x8001 is read unsigned: the headers run past the end of the file."""
    data = _patch(synth_elf(is64=is64, little=True), phnum_at, "<H", 0x8001)
    with pytest.raises(NotStaticError) as err:
        check_static(_elf(tmp_path, data), 62)
    assert str(err.value) == "app: truncated or corrupt ELF file"


# In synth_elf's 64-bit little-endian file with one library and no interpreter: two program
# headers end at 176, the string table b"\0libc.so.6\0" follows, then the dynamic section.
STRTAB_OFF, DYN_OFF, SIZE = 176, 187, 235


def _one_library(name_offset: int | None = None, strtab_vaddr: int | None = None) -> bytes:
    data = synth_elf(is64=True, little=True, needed=(b"libc.so.6",))
    assert len(data) == SIZE
    if name_offset is not None:
        data = _patch(data, DYN_OFF + 8, "<Q", name_offset)
    if strtab_vaddr is not None:
        data = _patch(data, DYN_OFF + 16 + 8, "<Q", strtab_vaddr)
    return data


def test_a_library_name_at_the_end_of_the_file_has_no_terminator(tmp_path):
    with pytest.raises(NotStaticError) as err:
        read_elf(_elf(tmp_path, _one_library(name_offset=SIZE - STRTAB_OFF)))
    assert str(err.value) == "corrupt ELF string table"


def test_an_empty_library_name_is_read_as_empty(tmp_path):
    assert read_elf(_elf(tmp_path, _one_library(name_offset=0))).needed == ("",)


def test_a_string_table_at_the_start_of_its_segment_is_found(tmp_path):
    # DT_STRTAB at the first byte of the PT_LOAD segment (file offset 0): the first "string"
    # there is the ELF magic up to its first zero byte.
    info = read_elf(_elf(tmp_path, _one_library(name_offset=0, strtab_vaddr=BASE)))
    assert info.needed == ("\x7fELF\x02\x01\x01",)


def test_a_string_table_just_past_its_segment_is_not_inside_it(tmp_path):
    with pytest.raises(NotStaticError) as err:
        read_elf(_elf(tmp_path, _one_library(strtab_vaddr=BASE + SIZE)))
    assert str(err.value) == "ELF dynamic string table is not inside a loaded segment"


def test_names_that_are_not_utf8_are_shown_replaced(tmp_path):
    path = _elf(tmp_path, synth_elf(is64=True, little=True, interp=b"/lib/ld\xff", needed=(b"lib\xfe.so",)))
    info = read_elf(path)
    assert info.interpreter == "/lib/ld\ufffd" and info.needed == ("lib\ufffd.so",)


def test_an_interpreter_ending_in_x_keeps_it(tmp_path):
    assert read_elf(_elf(tmp_path, synth_elf(is64=True, little=True, interp=b"/lib/ldX"))).interpreter == "/lib/ldX"


def test_messages_name_the_file_when_no_label_is_given(tmp_path):
    with pytest.raises(NotStaticError) as err:
        check_static(_elf(tmp_path, b"#!/bin/sh\n"), 62)
    assert str(err.value) == "app: not an ELF executable"


# -- platforms, references, digests, specs ----------------------------------------------------

def test_arm_v8_is_not_arm64():
    with pytest.raises(SpecError, match=r"^unsupported variant 'v8' for linux/arm \(choose from v5, v6, v7\)$"):
        parse_platform("linux/arm/v8")


def test_a_colon_between_slashes_is_part_of_the_repository():
    with pytest.raises(InvalidReference) as err:
        parse_reference("a/b:c/d")
    assert str(err.value).startswith("invalid repository 'a/b:c/d' in 'a/b:c/d'")


def test_a_digest_splits_at_its_first_colon():
    with pytest.raises(DigestError) as err:
        Digest.parse("sha256:abc:def")
    assert str(err.value) == "malformed sha256 digest 'abc:def'"


def test_layers_must_match_the_configs_diff_ids(make_image):
    img = make_image()
    wrong = ImageConfig(Platform("linux", "amd64"), (Digest.of_bytes(b"other"),), (History("x"),))
    with pytest.raises(OciError) as err:
        Image(wrong, img.layers[:1])
    assert str(err.value) == "config rootfs.diff_ids do not match the image's layers"


# -- tar ----------------------------------------------------------------------------------------

def _members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getmembers()


def test_directory_names_end_with_a_slash_in_the_header():
    out = io.BytesIO()
    write_tar(out, [TarEntry("home", DIR, 0o755), bytes_entry("home/f", b"x")])
    assert out.getvalue()[:100].rstrip(b"\0") == b"home/"


def test_write_tar_defaults_to_time_zero():
    out = io.BytesIO()
    write_tar(out, [bytes_entry("f", b"x")])
    assert [m.mtime for m in _members(out.getvalue())] == [0]


def test_a_name_ustar_cannot_hold_is_a_tar_error():
    with pytest.raises(TarError) as err:
        write_tar(io.BytesIO(), [bytes_entry("n" * 120, b"x")])
    assert str(err.value) == "name is too long"


def test_a_path_ending_in_x_keeps_it():
    assert normalise_path("binX/") == "binX"


# -- layers ---------------------------------------------------------------------------------

def test_zstd_layers_are_what_one_worker_thread_writes(tmp_path):
    """zstd's single-threaded mode frames output differently from one worker thread: leango's
    digests are the worker's, on every machine."""
    data = os.urandom(1 << 20) * 8 + bytes(range(256)) * 40000
    entries = [TarEntry("f", FILE, 0o644, len(data), lambda: io.BytesIO(data))]
    layer = build_layer(entries, tmp_path, compression="zstd")
    tar = io.BytesIO()
    write_tar(tar, entries)

    def compress(threads: int) -> bytes:
        out = io.BytesIO()
        with zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=threads).stream_writer(out, closefd=False) as w:
            w.write(tar.getvalue())
        return out.getvalue()
    blob = layer.path.read_bytes()
    assert blob == compress(1) and blob != compress(0)


def _renames(monkeypatch) -> list[tuple[str, str]]:
    """Every os.replace from now on, as (source directory, target directory)."""
    seen = []
    real_replace = os.replace

    def replace(src, dst):
        seen.append((os.path.dirname(src), os.path.dirname(dst)))
        real_replace(src, dst)
    monkeypatch.setattr(os, "replace", replace)
    return seen


def test_a_layer_is_written_in_its_directory_and_renamed(tmp_path, monkeypatch):
    """The temporary blob lives in the layer directory: the rename never crosses filesystems."""
    seen = _renames(monkeypatch)
    build_layer([bytes_entry("f", b"x")], tmp_path / "layers")
    assert seen == [(str(tmp_path / "layers"), str(tmp_path / "layers"))]


# -- credentials ----------------------------------------------------------------------------

def test_a_key_ending_in_x_keeps_it():
    assert creds.normalise_key("https://registryX/", keep_path=False) == "registryX"


def test_docker_config_defaults_to_home(tmp_path):
    src = creds.CredentialSources.from_environ({}, tmp_path, 1000)
    assert src.docker_config == tmp_path / ".docker" / "config.json"


def test_root_without_runtime_dir_reads_run_containers_0(tmp_path):
    src = creds.CredentialSources.from_environ({}, tmp_path, 0)
    assert src.auth_files[0] == creds.Path("/run/containers/0/auth.json")


def test_a_credentials_file_that_is_not_an_object(tmp_path):
    path = tmp_path / "auth.json"
    path.write_text("[]")
    with pytest.raises(RegistryError) as err:
        creds.resolve(creds.CredentialSources((path,), None), "r.io", "a")
    assert str(err.value) == f"credentials file {path} is not a JSON object"


def test_a_missing_auth_file_does_not_hide_the_next(tmp_path):
    second = tmp_path / "second.json"
    creds.store_login(second, "r.io", "u", "p")
    cred = creds.resolve(creds.CredentialSources((tmp_path / "missing.json", second), None), "r.io", "a")
    assert (cred.username, cred.password) == ("u", "p")


def test_login_creates_missing_parent_directories(tmp_path):
    path = tmp_path / "a" / "b" / "auth.json"
    creds.store_login(path, "r.io", "u", "p")
    assert path.is_file() and oct(path.parent.stat().st_mode & 0o777) == "0o700"


def test_logout_without_a_directory_forgets_nothing(tmp_path):
    assert creds.remove_login(tmp_path / "none" / "auth.json", "r.io") is False


def test_a_failed_write_leaves_no_temporary_file_and_keeps_its_error(tmp_path, monkeypatch):
    path = tmp_path / "auth.json"

    def no_disk(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(creds.os, "fsync", no_disk)
    with pytest.raises(OSError, match="No space left on device"):
        creds.store_login(path, "r.io", "u", "p")
    assert [p.name for p in tmp_path.iterdir() if p.name != ".auth.json.lock"] == []


def test_credentials_are_written_beside_the_file_and_renamed(tmp_path, monkeypatch):
    """The temporary file lives in the target's directory: the rename is atomic there, and the
    secret never passes through another directory."""
    seen = _renames(monkeypatch)
    creds.store_login(tmp_path / "auth.json", "r.io", "u", "p")
    assert seen == [(str(tmp_path), str(tmp_path))]


def test_a_helper_that_hangs_is_stopped(tmp_path, monkeypatch):
    import subprocess
    monkeypatch.setattr(creds, "HELPER_TIMEOUT", 0.2)
    with pytest.raises(subprocess.TimeoutExpired):
        creds.run_helper(["sleep", "30"], "")


# -- retry and challenges -------------------------------------------------------------------

def test_attempts_are_counted_when_the_second_fails_for_good():
    policy = RetryPolicy(sleep=Sleeps(), uniform=lambda lo, hi: lo)
    errors = iter([RegistryError("busy", status=503), RegistryError("gone", status=404)])

    def op(_attempt):
        raise next(errors)
    with pytest.raises(RegistryError) as err:
        policy.run(op, "GET x")
    assert err.value.attempts == 2


def test_retry_log_names_what_is_retried(caplog):
    import logging
    policy = RetryPolicy(sleep=Sleeps(), uniform=lambda lo, hi: lo)
    calls = iter([RegistryError("busy", status=503)])

    def op(_attempt):
        for exc in calls:
            raise exc
        return "ok"
    with caplog.at_level(logging.INFO, logger="leango.oci.registry.retry"):
        assert policy.run(op, "GET blob sha256:ab") == "ok"
    assert [r.getMessage() for r in caplog.records] == ["retrying in 0.2s (GET blob sha256:ab: busy)"]


@pytest.mark.parametrize("header,schemes", [
    ('Negotiate, Basic realm="x"', ["negotiate", "basic"]),  # a challenge without parameters
    ('Basic realm="a", XAuth realm="b"', ["basic", "xauth"]),
])
def test_challenges_after_a_comma(header, schemes):
    assert [c.scheme for c in parse_challenges(header)] == schemes


def test_image_times_are_utc_whatever_the_local_zone(monkeypatch):
    import time

    from leango.oci.config import rfc3339
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert rfc3339(0) == "1970-01-01T00:00:00Z"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
