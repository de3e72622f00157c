"""parse_reference: each rule with its exact message; str/with_digest round trips.
Written against the survivors of scripts/mutation (docs/testing.md)."""

from __future__ import annotations

import pytest

from leango.oci.digest import Digest
from leango.oci.errors import InvalidReference
from leango.oci.reference import Reference, parse_reference

D = Digest.parse("sha256:" + "b" * 64)


@pytest.mark.parametrize("text,expected", [
    ("app", Reference("docker.io", "library/app", "latest")),
    ("team/app", Reference("docker.io", "team/app", "latest")),
    ("localhost/app", Reference("localhost", "app", "latest")),
    ("localhost:5000/a/b:v1", Reference("localhost:5000", "a/b", "v1")),
    ("Host/app", Reference("Host", "app", "latest")),
    ("r.example/app@" + str(D), Reference("r.example", "app", "", D)),
    ("r.example/app:v1@" + str(D), Reference("r.example", "app", "v1", D)),
    ("[::1]:5000/app", Reference("[::1]:5000", "app", "latest")),
    ("a.b/c__d/e-f/g.h_i:T.1-x", Reference("a.b", "c__d/e-f/g.h_i", "T.1-x")),
])
def test_parse(text, expected):
    ref = parse_reference(text)
    assert ref == expected
    assert parse_reference(str(ref)) == ref


def test_default_tag():
    assert parse_reference("r.example/app", default_tag="").tag == ""
    assert parse_reference("r.example/app", default_tag="edge").tag == "edge"
    assert parse_reference("r.example/app@" + str(D), default_tag="edge").tag == ""


def test_str_and_name():
    ref = Reference("r.example", "a/b", "v1", D)
    assert ref.name == "r.example/a/b" and str(ref) == f"r.example/a/b:v1@{D}"
    assert str(Reference("r.example", "a")) == "r.example/a"


def test_with_digest_keeps_everything_else():
    ref = Reference("r.example", "a/b", "v1").with_digest(D)
    assert ref == Reference("r.example", "a/b", "v1", D)


@pytest.mark.parametrize("text", ["", " app", "app ", "app\n"])
def test_empty_or_whitespace(text):
    with pytest.raises(InvalidReference) as err:
        parse_reference(text)
    assert str(err.value) == f"invalid image reference {text!r}: empty or has whitespace"


def test_bad_digest_message():
    with pytest.raises(InvalidReference) as err:
        parse_reference("r.example/app@sha256:xyz")
    assert str(err.value) == "invalid image reference 'r.example/app@sha256:xyz': malformed sha256 digest 'xyz'"


@pytest.mark.parametrize("tag", [".v", "-v", "a" * 129, "vé", ""])
def test_bad_tag_message(tag):
    text = f"r.example/app:{tag}"
    with pytest.raises(InvalidReference) as err:
        parse_reference(text)
    assert str(err.value) == (f"invalid tag {tag!r} in {text!r}: at most 128 of [A-Za-z0-9_.-], "
                              "not starting with '.' or '-'")


def test_bad_registry_message():
    with pytest.raises(InvalidReference) as err:
        parse_reference("-bad.example/app")
    assert str(err.value) == "invalid registry '-bad.example' in '-bad.example/app'"


@pytest.mark.parametrize("text,repo", [("r.example/App", "App"), ("r.example/a//b", "a//b"), ("r.example/a-", "a-"),
                                       ("r.example/a...b", "a...b")])
def test_bad_repository_message(text, repo):
    with pytest.raises(InvalidReference) as err:
        parse_reference(text)
    assert str(err.value) == (f"invalid repository {repo!r} in {text!r}: lowercase letters, digits and "
                              "separators (. _ __ -) only")


def test_name_length_boundary_with_registry():
    ok = "r.example/" + "a" * (255 - len("r.example/"))
    assert parse_reference(ok).repository == "a" * 245
    long = ok + "a"
    with pytest.raises(InvalidReference) as err:
        parse_reference(long + ":v1")
    assert str(err.value) == f"invalid image reference {long + ':v1'!r}: name longer than 255 characters"


def test_port_colon_is_not_a_tag():
    ref = parse_reference("r.example:5000/app")
    assert (ref.registry, ref.tag) == ("r.example:5000", "latest")
