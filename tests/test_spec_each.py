"""BuildSpec validation, one rule per test with its exact message, both sides of each boundary.
Written against the survivors of scripts/mutation (docs/testing.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from leango.builder.errors import SpecError
from leango.builder.spec import BuildSpec, PushOptions, check_repo, parse_env, parse_epoch
from leango.oci import OciError, Platform, parse_reference
from leango.oci.tarfs import MAX_MTIME

AMD64 = Platform("linux", "amd64")


def spec(**kw) -> BuildSpec:
    base = dict(sources=("./app",), cache_dir=Path("/c"), platforms=(AMD64,))
    return BuildSpec(**(base | kw))


def refused(**kw) -> str:
    with pytest.raises(SpecError) as err:
        spec(**kw)
    return str(err.value)


def test_a_single_source_string_becomes_a_tuple():
    assert spec(sources="./app").sources == ("./app",)
    assert spec(sources=Path("/src")).sources == ("/src",)
    assert spec(sources=("a", "b")).sources == ("a", "b")


def test_push_needs_somewhere():
    assert refused(push=PushOptions()) == "--push needs --tag REF naming where to push, or --repo"
    assert spec(push=PushOptions(), repo="r.example/team").repo == "r.example/team"
    assert spec(push=PushOptions(), references=(parse_reference("r.example/a:1"),)).references


def test_repo_and_references_exclude_each_other():
    assert refused(repo="r.example/team", references=(parse_reference("r.example/a:1"),)) == (
        "--repo names images REPO/<binary>: give --tag as plain tags (v1.2.3), not full references")


def test_repo_is_checked():
    assert refused(repo="r.example/Team").startswith("invalid --repo 'r.example/Team': ")
    assert refused(repo="r.example//x") == ("invalid --repo 'r.example//x': "
                                            + str(_oci_error("r.example//x/image")))


def _oci_error(text):
    try:
        parse_reference(text)
    except OciError as exc:
        return exc
    raise AssertionError(text)


@pytest.mark.parametrize("repo", ["r.example/team", "team", "localhost:5000/a/b"])
def test_good_repos(repo):
    assert check_repo(repo) == repo


def test_repo_with_a_tag_or_digest_is_refused():
    with pytest.raises(SpecError) as err:
        check_repo("r.example/team@sha256:" + "a" * 64)
    assert str(err.value).startswith("invalid --repo ")


@pytest.mark.parametrize("tag,ok", [
    ("v1.2.3", True), ("_x", True), ("a" * 128, True), ("a" * 129, False), (".x", False), ("-x", False),
    ("x-y.z_1", True), ("vé", False), ("", False), ("a/b", False),
])
def test_tags(tag, ok):
    if ok:
        assert spec(tags=(tag,)).tags == (tag,)
    else:
        assert refused(tags=("ok", tag)) == (f"invalid tag {tag!r} (at most 128 of [A-Za-z0-9_.-], "
                                             "not starting with '.' or '-')")


@pytest.mark.parametrize("timeout,ok", [(None, True), (0.001, True), (0, False), (-1, False)])
def test_timeout(timeout, ok):
    if ok:
        assert spec(timeout=timeout).timeout == timeout
    else:
        assert refused(timeout=timeout) == "--timeout must be a positive number of seconds"


def test_platforms():
    assert refused(platforms=()) == "at least one platform is required"
    assert refused(platforms=(AMD64, Platform("linux", "amd64"))) == "a platform is listed twice"
    assert len(spec(platforms=(AMD64, Platform("linux", "arm64"))).platforms) == 2


@pytest.mark.parametrize("compression,ok", [("gzip", True), ("zstd", True), ("none", False), ("lz4", False)])
def test_compression(compression, ok):
    if ok:
        assert spec(compression=compression).compression == compression
    else:
        assert refused(compression=compression) == f"unknown compression {compression!r} (choose gzip or zstd)"


@pytest.mark.parametrize("epoch,ok", [(0, True), (MAX_MTIME, True), (MAX_MTIME + 1, False), (-1, False)])
def test_source_date_epoch(epoch, ok):
    if ok:
        assert spec(source_date_epoch=epoch).source_date_epoch == epoch
    else:
        assert refused(source_date_epoch=epoch) == (
            f"SOURCE_DATE_EPOCH must be between 0 and {MAX_MTIME} (the last second a tar header holds)")


@pytest.mark.parametrize("user,ok", [
    ("65532:65532", True), ("app", True), ("app:grp", True), ("a.b-c_d", True),
    ("", False), ("a:", False), (":1", False), ("a:b:c", False), ("a b", False), ("é", False),
])
def test_user(user, ok):
    if ok:
        assert spec(user=user).user == user
    else:
        assert refused(user=user) == f"invalid user {user!r} (use UID[:GID] or NAME[:GROUP])"


@pytest.mark.parametrize("key,ok", [("A", True), ("_a1", True), ("a_B9", True), ("1A", False), ("A-B", False),
                                    ("", False), ("Aé", False)])
def test_env_names(key, ok):
    if ok:
        assert spec(env=((key, "v"),)).env == ((key, "v"),)
    else:
        assert refused(env=(("OK", "1"), (key, "v"))) == f"invalid environment variable name {key!r}"


@pytest.mark.parametrize("key", ["CGO_ENABLED", "GOOS", "GOARCH", "GOFLAGS"])
def test_env_may_not_override_what_leango_sets(key):
    assert refused(env=((key, "x"),)).startswith(f"--env {key} is not allowed: leango sets it (")


@pytest.mark.parametrize("tag,ok", [("netgo", True), ("a.b_c9", True), ("a-b", False), ("a b", False),
                                    ("", False), ("a,b", False)])
def test_build_tags(tag, ok):
    if ok:
        assert spec(build_tags=(tag,)).build_tags == (tag,)
    else:
        assert refused(build_tags=("ok", tag)) == f"invalid build tag {tag!r}"


def test_parse_env():
    assert parse_env(("A=1", "B=", "C=x=y")) == (("A", "1"), ("B", ""), ("C", "x=y"))
    with pytest.raises(SpecError) as err:
        parse_env(("A=1", "B"))
    assert str(err.value) == "--env 'B' is not KEY=VALUE"


@pytest.mark.parametrize("text,value", [(None, 0), ("", 0), ("0", 0), ("1700000000", 1700000000)])
def test_parse_epoch(text, value):
    assert parse_epoch(text) == value


@pytest.mark.parametrize("text", ["-1", "1.5", " 1", "x", "1e9"])
def test_parse_epoch_refuses(text):
    with pytest.raises(SpecError) as err:
        parse_epoch(text)
    assert str(err.value) == f"SOURCE_DATE_EPOCH={text!r} is not a non-negative integer number of seconds"
