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
