import pytest

from leango.oci.errors import InvalidReference
from leango.oci.reference import parse_reference


@pytest.mark.parametrize("text,registry,repo,tag", [
    ("localhost:5000/hello:v1", "localhost:5000", "hello", "v1"),
    ("localhost/hello", "localhost", "hello", "latest"),
    ("registry.example.com/team/app:v1.2.3", "registry.example.com", "team/app", "v1.2.3"),
    ("hello", "docker.io", "library/hello", "latest"),
    ("user/app:1", "docker.io", "user/app", "1"),
    ("127.0.0.1:5000/a-b/c_d/e__f/g.h:X_y-1", "127.0.0.1:5000", "a-b/c_d/e__f/g.h", "X_y-1"),
    ("[::1]:5000/app:v", "[::1]:5000", "app", "v"),
])
def test_valid(text, registry, repo, tag):
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag) == (registry, repo, tag)


def test_digest_reference_and_str():
    text = "localhost:5000/app@sha256:" + "b" * 64
    ref = parse_reference(text)
    assert ref.tag == "" and str(ref.digest) == "sha256:" + "b" * 64 and str(ref) == text


@pytest.mark.parametrize("bad", [
    "Localhost:5000/Hello:v1", "localhost:5000/Hello", "localhost:5000/app:" + "t" * 129,
    "localhost:5000/app:.hidden", "localhost:5000/app:-x", "app@sha256:ABC",
    "app@sha256:../../x", "app@sha256:" + "a" * 63, "", " app", "app:", "a//b",
    "localhost:5000/app-:v", "/app", "app/", "example.com/" + "a" * 256,
])
def test_invalid(bad):
    with pytest.raises(InvalidReference):
        parse_reference(bad)


def test_name_length_boundary():
    """distribution/reference: a name (registry/repository) of at most 255 characters."""
    prefix = "example.com/"
    assert parse_reference(prefix + "a" * (255 - len(prefix))).repository == "a" * (255 - len(prefix))
    with pytest.raises(InvalidReference, match="longer than 255"):
        parse_reference(prefix + "a" * (256 - len(prefix)))


def test_tag_length_boundary():
    assert parse_reference("r.io/app:" + "t" * 128).tag == "t" * 128
    with pytest.raises(InvalidReference):
        parse_reference("r.io/app:" + "t" * 129)


@pytest.mark.parametrize("first,is_registry", [
    ("Upper", True), ("a.b", True), ("host:5000", True), ("localhost", True),
    ("lower", False), ("under_score", False), ("dash-ed", False),
])
def test_what_makes_the_first_component_a_registry(first, is_registry):
    ref = parse_reference(f"{first}/app")
    assert (ref.registry == first) is is_registry
    assert ref.repository == ("app" if is_registry else f"{first}/app")


@pytest.mark.parametrize("char", ["é", "ß", "٣", "ｘ", "\u200b", " ", "/", ":", "@", "+", "~"])
def test_tags_are_ascii_by_the_distribution_grammar(char):
    with pytest.raises(InvalidReference):
        parse_reference(f"localhost/app:v{char}")


@pytest.mark.parametrize("char", ["A", "z", "0", "_", ".", "-"])
def test_every_tag_character_class_is_accepted(char):
    assert parse_reference(f"localhost/app:v{char}x").tag == f"v{char}x"


@pytest.mark.parametrize("repo", ["app", "a/b/c", "a.b", "a_b", "a__b", "a-b", "a--b"])
def test_repository_separators_accepted(repo):
    assert parse_reference(f"r.io/{repo}").repository == repo


@pytest.mark.parametrize("repo", ["A", "a___b", "a..b", "a_", "_a", "-a", "a/", "é"])
def test_repository_separators_refused(repo):
    with pytest.raises(InvalidReference):
        parse_reference(f"r.io/{repo}")
