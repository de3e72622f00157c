"""Credential resolution (auth.json, docker config, helpers) and challenge parsing, without a server."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from leango.oci.errors import RegistryError
from leango.oci.registry.auth import check_redirect_target, parse_challenges
from leango.oci.registry.credentials import (
    ANONYMOUS,
    Credential,
    CredentialSources,
    auth_file_paths,
    normalise_key,
    remove_login,
    resolve,
    store_login,
)
from leango.oci.registry.transport import is_loopback, redact
from leango.oci.registry.upload import with_digest


def _auth(u, p):
    return {"auth": base64.b64encode(f"{u}:{p}".encode()).decode()}


def _file(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


class Helpers:
    """A fake `docker-credential-*` runner recording who asked for what."""

    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def __call__(self, argv, stdin):
        self.calls.append((argv[0], stdin))
        if argv[0] not in self.answers:
            raise FileNotFoundError(argv[0])
        code, out = self.answers[argv[0]]
        return subprocess.CompletedProcess(argv, code, out, "")


def test_precedence_helper_over_store_over_auths(tmp_path):
    cfg = _file(tmp_path / "config.json", {
        "auths": {"reg.example.com": _auth("inline", "pw")},
        "credsStore": "store", "credHelpers": {"reg.example.com": "helper"}})
    helpers = Helpers({"docker-credential-helper": (0, '{"Username":"h","Secret":"hs"}'),
                       "docker-credential-store": (0, '{"Username":"s","Secret":"ss"}')})
    src = CredentialSources(docker_config=cfg)
    assert resolve(src, "reg.example.com", "app", helpers) == Credential("h", "hs")
    assert resolve(src, "other.example.com", "app", helpers) == Credential("s", "ss")
    assert helpers.calls == [("docker-credential-helper", "reg.example.com"),
                             ("docker-credential-store", "other.example.com")]


def test_store_not_found_falls_back_to_auths(tmp_path):
    cfg = _file(tmp_path / "c.json", {"credsStore": "store", "auths": {"r.io": _auth("a", "b")}})
    helpers = Helpers({"docker-credential-store": (1, "credentials not found in native keychain")})
    assert resolve(CredentialSources(docker_config=cfg), "r.io", "x", helpers) == Credential("a", "b")


def test_key_forms_and_docker_hub(tmp_path):
    cfg = _file(tmp_path / "c.json", {"auths": {
        "https://index.docker.io/v1/": _auth("hub", "1"), "http://r.io:5000/": _auth("r", "2")}})
    src = CredentialSources(docker_config=cfg)
    assert resolve(src, "docker.io", "library/alpine") == Credential("hub", "1")
    assert resolve(src, "r.io:5000", "a/b") == Credential("r", "2")
    assert resolve(src, "r.io", "a/b") is ANONYMOUS
    assert normalise_key("https://registry-1.docker.io/v2/", keep_path=False) == "docker.io"


def test_auth_json_namespaces_most_specific_first(tmp_path):
    authfile = _file(tmp_path / "auth.json", {"auths": {
        "r.io": _auth("host", "h"), "r.io/team": _auth("team", "t"), "r.io/team/app": _auth("app", "a")}})
    src = CredentialSources(auth_files=(authfile,))
    assert resolve(src, "r.io", "team/app").username == "app"
    assert resolve(src, "r.io", "team/other").username == "team"
    assert resolve(src, "r.io", "elsewhere/x").username == "host"


def test_auth_json_beats_docker_config(tmp_path):
    authfile = _file(tmp_path / "auth.json", {"auths": {"r.io": _auth("podman", "p")}})
    cfg = _file(tmp_path / "config.json", {"auths": {"r.io": _auth("docker", "d")}})
    assert resolve(CredentialSources((authfile,), cfg), "r.io", "x").username == "podman"


def test_token_username_means_identity_token(tmp_path):
    cfg = _file(tmp_path / "c.json", {"credHelpers": {"r.io": "h"}})
    helpers = Helpers({"docker-credential-h": (0, '{"Username":"<token>","Secret":"refresh"}')})
    cred = resolve(CredentialSources(docker_config=cfg), "r.io", "x", helpers)
    assert cred.identity_token == "refresh" and not cred.password


def test_missing_helper_is_an_error_not_a_fallback(tmp_path):
    cfg = _file(tmp_path / "c.json", {"auths": {"r.io": _auth("x", "y")}, "credHelpers": {"r.io": "gone"}})
    with pytest.raises(RegistryError, match="docker-credential-gone for r.io is not installed"):
        resolve(CredentialSources(docker_config=cfg), "r.io", "x", Helpers({}))


def test_no_files_means_anonymous(tmp_path):
    src = CredentialSources((tmp_path / "nope.json",), tmp_path / "nope" / "config.json")
    assert resolve(src, "r.io", "x") is ANONYMOUS


def test_malformed_files_are_clear_errors(tmp_path):
    bad = tmp_path / "c.json"
    bad.write_text("{not json")
    with pytest.raises(RegistryError, match="cannot read credentials file"):
        resolve(CredentialSources(docker_config=bad), "r.io", "x")
    _file(bad, {"auths": {"r.io": {"auth": base64.b64encode(b"no-colon").decode()}}})
    with pytest.raises(RegistryError, match="malformed 'auth'"):
        resolve(CredentialSources(docker_config=bad), "r.io", "x")


def test_secrets_never_in_repr():
    text = repr(Credential("u", "hunter2", "idtok", "regtok"))
    assert "hunter2" not in text and "idtok" not in text and "regtok" not in text


def test_auth_file_locations():
    home = Path("/home/u")
    assert auth_file_paths({"REGISTRY_AUTH_FILE": "/x/a.json"}, home, 1000, for_write=True) == [Path("/x/a.json")]
    env = {"XDG_RUNTIME_DIR": "/run/user/1000"}
    assert auth_file_paths(env, home, 1000, for_write=True) == [Path("/run/user/1000/containers/auth.json")]
    assert auth_file_paths(env, home, 1000, for_write=False)[-1] == home / ".config/containers/auth.json"
    assert auth_file_paths({}, home, 0, for_write=True) == [Path("/run/containers/0/auth.json")]


def test_store_and_remove_login_keep_other_entries(tmp_path):
    path = _file(tmp_path / "auth.json", {"auths": {"other.io": _auth("o", "p")}, "credHelpers": {"x": "y"}})
    store_login(path, "r.io", "me", "pw")
    data = json.loads(path.read_text())
    assert set(data["auths"]) == {"other.io", "r.io"} and data["credHelpers"] == {"x": "y"}
    assert resolve(CredentialSources((path,)), "r.io", "a") == Credential("me", "pw")
    assert remove_login(path, "r.io") and not remove_login(path, "r.io")
    assert resolve(CredentialSources((path,)), "r.io", "a") is ANONYMOUS
    assert set(json.loads(path.read_text())["auths"]) == {"other.io"}


def test_parse_challenges():
    [c] = parse_challenges('Bearer realm="https://auth.io/token",service="registry.io",'
                           'scope="repository:a/b:pull,push",error="insufficient_scope"')
    assert c.scheme == "bearer" and c.get("realm") == "https://auth.io/token"
    assert c.get("scope") == "repository:a/b:pull,push" and c.get("error") == "insufficient_scope"
    both = parse_challenges('Basic realm="r", Bearer realm="https://t",service=s')
    assert [x.scheme for x in both] == ["basic", "bearer"] and both[1].get("service") == "s"


@pytest.mark.parametrize("registry,target,ok", [
    ("https://r.io", "https://auth.r.io/token", True),
    ("https://r.io", "http://auth.r.io/token", False),  # TLS downgrade
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000/token", True),
    ("https://r.io", "https://169.254.169.254/latest", False),  # cloud metadata
    ("https://r.io", "https://10.0.0.5/token", False),
    ("https://r.io", "https://127.0.0.1/token", False),
    ("https://r.io", "file:///etc/passwd", False),
])
def test_redirect_targets(registry, target, ok):
    if ok:
        check_redirect_target(registry, target, "realm")
    else:
        with pytest.raises(RegistryError):
            check_redirect_target(registry, target, "realm")


def test_small_helpers():
    assert with_digest("http://r/v2/a/blobs/uploads/u?_state=A%3D", "sha256:ab") == \
        "http://r/v2/a/blobs/uploads/u?_state=A%3D&digest=sha256%3Aab"
    assert with_digest("http://r/u", "sha256:ab") == "http://r/u?digest=sha256%3Aab"
    assert redact("https://r/v2/x/blobs/uploads/u?_state=SECRET&digest=d") == "https://r/v2/x/blobs/uploads/u?…"
    assert all(map(is_loopback, ["localhost", "localhost:5000", "127.0.0.1:5000", "[::1]:5000", "127.1.2.3"]))
    assert not any(map(is_loopback, ["r.io", "10.0.0.1:5000", "example.localhostx"]))
