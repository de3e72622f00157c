"""Credential lookup, one condition per test: each entry form, each type check, each path rule,
each helper outcome. Written against the survivors of scripts/mutation (docs/testing.md)."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from leango.oci.errors import RegistryError
from leango.oci.registry.credentials import (
    ANONYMOUS,
    Credential,
    CredentialSources,
    auth_file_paths,
    docker_config_path,
    normalise_key,
    resolve,
    run_helper,
    store_login,
)

HOME = Path("/home/u")


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def _resolve_entry(tmp_path, entry, registry="r.example", repository="team/app", run=None):
    path = tmp_path / "auth.json"
    path.write_text(json.dumps({"auths": {registry: entry}}))
    kwargs = {"run": run} if run else {}
    return resolve(CredentialSources((path,)), registry, repository, **kwargs)


# -- entry forms -------------------------------------------------------------------------------

def test_identity_token_with_username(tmp_path):
    assert _resolve_entry(tmp_path, {"identitytoken": "tok", "username": "u", "auth": _b64("a:b")}) == \
        Credential(username="u", identity_token="tok")


def test_identity_token_without_username(tmp_path):
    assert _resolve_entry(tmp_path, {"identitytoken": "tok"}) == Credential(username="", identity_token="tok")


def test_registry_token_wins_over_auth(tmp_path):
    assert _resolve_entry(tmp_path, {"registrytoken": "bearer", "auth": _b64("a:b")}) == \
        Credential(registry_token="bearer")


def test_auth_splits_at_the_first_colon(tmp_path):
    assert _resolve_entry(tmp_path, {"auth": _b64("user:pa:ss")}) == Credential("user", "pa:ss")


def test_auth_wins_over_username_and_password(tmp_path):
    assert _resolve_entry(tmp_path, {"auth": _b64("a:b"), "username": "c", "password": "d"}) == Credential("a", "b")


def test_username_and_password_fields(tmp_path):
    assert _resolve_entry(tmp_path, {"username": "c", "password": "d"}) == Credential("c", "d")


@pytest.mark.parametrize("entry", [{"username": "c"}, {"password": "d"}, {}, {"auth": ""}, {"identitytoken": ""}])
def test_incomplete_entries_are_anonymous(tmp_path, entry):
    assert _resolve_entry(tmp_path, entry) is ANONYMOUS


@pytest.mark.parametrize("key", ["identitytoken", "registrytoken", "auth", "username", "password"])
def test_each_field_must_be_a_string(tmp_path, key):
    with pytest.raises(RegistryError) as err:
        _resolve_entry(tmp_path, {key: 5})
    assert str(err.value) == f"{tmp_path / 'auth.json'} [r.example]: {key!r} is not a string"


def test_null_field_is_absent(tmp_path):
    assert _resolve_entry(tmp_path, {"identitytoken": None, "auth": _b64("a:b")}) == Credential("a", "b")


def test_auth_not_base64(tmp_path):
    with pytest.raises(RegistryError) as err:
        _resolve_entry(tmp_path, {"auth": "abc"})  # bad padding
    assert str(err.value) == f"{tmp_path / 'auth.json'} [r.example]: malformed 'auth' value"
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_auth_not_utf8_never_chains_the_bytes(tmp_path):
    with pytest.raises(RegistryError) as err:
        _resolve_entry(tmp_path, {"auth": base64.b64encode(b"u:\xff\xfesecret").decode()})
    assert str(err.value).endswith("malformed 'auth' value") and err.value.__suppress_context__


def test_auth_without_colon(tmp_path):
    with pytest.raises(RegistryError) as err:
        _resolve_entry(tmp_path, {"auth": _b64("nocolon")})
    assert str(err.value).endswith(": malformed 'auth' value (expected base64 of user:password)")


# -- file-level type checks ---------------------------------------------------------------------

@pytest.mark.parametrize("key,value,kind", [
    ("credHelpers", ["x"], "object"), ("credsStore", {"a": 1}, "string"), ("auths", "x", "object"),
])
def test_each_section_has_its_type(tmp_path, key, value, kind):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({key: value}))
    with pytest.raises(RegistryError) as err:
        resolve(CredentialSources((path,)), "r.example", "app")
    assert str(err.value) == f"{path}: {key!r} is not a JSON {kind}"


@pytest.mark.parametrize("helper", ["", 3])
def test_helper_name_must_be_a_name(tmp_path, helper):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"credHelpers": {"r.example": helper}}))
    with pytest.raises(RegistryError) as err:
        resolve(CredentialSources((path,)), "r.example", "app")
    assert str(err.value) == f"{path}: the credential helper for r.example is not a name"


def test_helper_keys_are_normalised(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"credHelpers": {"https://r.example/v1/": "h"}}))
    asked = []
    cred = resolve(CredentialSources((path,)), "r.example", "app",
                   run=lambda argv, stdin: asked.append((argv, stdin)) or _done(0, '{"Username":"u","Secret":"s"}'))
    assert cred == Credential("u", "s") and asked == [(["docker-credential-h", "get"], "r.example")]


def test_non_object_auth_entry_is_skipped(tmp_path):
    path = tmp_path / "auth.json"
    path.write_text(json.dumps({"auths": {"r.example/team": "junk", "r.example": {"auth": _b64("a:b")}}}))
    assert resolve(CredentialSources((path,)), "r.example", "team/app") == Credential("a", "b")


def test_first_spelling_of_a_key_wins(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {"https://r.example/v1/": {"auth": _b64("first:1")},
                                          "r.example": {"auth": _b64("second:2")}}}))
    assert resolve(CredentialSources((), path), "r.example", "app") == Credential("first", "1")


def test_docker_config_keys_drop_the_path(tmp_path):
    """config.json keys are host keys: a namespaced key there counts for the whole host."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {"r.example/other": {"auth": _b64("a:b")}}}))
    assert resolve(CredentialSources((), path), "r.example", "team/app") == Credential("a", "b")
    auth = tmp_path / "auth.json"
    auth.write_text(path.read_text())
    assert resolve(CredentialSources((auth,)), "r.example", "team/app") is ANONYMOUS


# -- helpers -----------------------------------------------------------------------------------

def _done(code, out="", err=""):
    return subprocess.CompletedProcess([], code, out, err)


def _helper_file(tmp_path, registry="r.example"):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"credHelpers": {registry: "h"}}))
    return CredentialSources((), path)


def test_helper_missing(tmp_path):
    def run(argv, stdin):
        raise FileNotFoundError(argv[0])
    with pytest.raises(RegistryError) as err:
        resolve(_helper_file(tmp_path), "r.example", "app", run=run)
    assert str(err.value) == ("credential helper docker-credential-h for r.example is not installed or not on "
                              "PATH; no credentials were sent")


def test_helper_timeout(tmp_path):
    def run(argv, stdin):
        raise subprocess.TimeoutExpired(argv, 60)
    with pytest.raises(RegistryError) as err:
        resolve(_helper_file(tmp_path), "r.example", "app", run=run)
    assert str(err.value) == "credential helper docker-credential-h for r.example timed out"


@pytest.mark.parametrize("out,err", [("Credentials not found in native keychain", ""), ("", "credentials NOT found")])
def test_helper_not_found_is_anonymous(tmp_path, out, err):
    assert resolve(_helper_file(tmp_path), "r.example", "app", run=lambda a, s: _done(1, out, err)) is ANONYMOUS


def test_helper_failure(tmp_path):
    with pytest.raises(RegistryError) as err:
        resolve(_helper_file(tmp_path), "r.example", "app", run=lambda a, s: _done(3, "", "boom"))
    assert str(err.value) == "credential helper docker-credential-h failed for r.example (exit 3)"


@pytest.mark.parametrize("out", ["not json secret", '{"Username": "u"}', '["Username"]'])
def test_helper_malformed_output_hides_it(tmp_path, out):
    with pytest.raises(RegistryError) as err:
        resolve(_helper_file(tmp_path), "r.example", "app", run=lambda a, s: _done(0, out))
    assert str(err.value) == "credential helper docker-credential-h returned malformed output for r.example"
    assert err.value.__suppress_context__ and "secret" not in str(err.value)


def test_helper_token_user_means_identity_token(tmp_path):
    cred = resolve(_helper_file(tmp_path), "r.example", "app",
                   run=lambda a, s: _done(0, '{"Username":"<token>","Secret":"refresh"}'))
    assert cred == Credential(identity_token="refresh")


def test_helper_for_docker_hub_is_asked_for_the_legacy_key(tmp_path):
    asked = []
    resolve(_helper_file(tmp_path, "docker.io"), "docker.io", "library/x",
            run=lambda a, s: asked.append(s) or _done(0, '{"Username":"u","Secret":"s"}'))
    assert asked == ["https://index.docker.io/v1/"]


def test_creds_store_anonymous_falls_back_to_auths(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"credsStore": "h", "auths": {"r.example": {"auth": _b64("a:b")}}}))
    cred = resolve(CredentialSources((), path), "r.example", "app", run=lambda a, s: _done(1, "credentials not found"))
    assert cred == Credential("a", "b")


def test_run_helper_runs_the_program_with_stdin(tmp_path):
    proc = run_helper(["sh", "-c", "cat; echo; echo err >&2; exit 4"], "r.example")
    assert (proc.returncode, proc.stdout, proc.stderr) == (4, "r.example\n", "err\n")


# -- where the files are -----------------------------------------------------------------------

def test_sources_from_environ():
    src = CredentialSources.from_environ({"XDG_RUNTIME_DIR": "/run/u", "DOCKER_CONFIG": "/d"}, HOME, 1000)
    assert src == CredentialSources((Path("/run/u/containers/auth.json"), HOME / ".config/containers/auth.json"),
                                    Path("/d/config.json"))


def test_registry_auth_file_is_the_only_auth_file():
    env = {"REGISTRY_AUTH_FILE": "/a.json", "XDG_RUNTIME_DIR": "/run/u"}
    assert auth_file_paths(env, HOME, 0, for_write=False) == [Path("/a.json")]
    assert auth_file_paths(env, HOME, 0, for_write=True) == [Path("/a.json")]


def test_root_without_runtime_dir_uses_run_containers_0():
    assert auth_file_paths({}, HOME, 0, for_write=False) == \
        [Path("/run/containers/0/auth.json"), HOME / ".config/containers/auth.json"]
    assert auth_file_paths({}, HOME, 0, for_write=True) == [Path("/run/containers/0/auth.json")]


def test_user_without_runtime_dir_writes_to_config_home():
    assert auth_file_paths({}, HOME, 1000, for_write=True) == [HOME / ".config/containers/auth.json"]
    assert auth_file_paths({"XDG_CONFIG_HOME": "/cfg"}, HOME, 1000, for_write=False) == \
        [Path("/cfg/containers/auth.json")]


def test_runtime_dir_is_where_login_writes():
    assert auth_file_paths({"XDG_RUNTIME_DIR": "/run/u"}, HOME, 1000, for_write=True) == \
        [Path("/run/u/containers/auth.json")]


def test_docker_config_path():
    assert docker_config_path({}, HOME) == HOME / ".docker/config.json"
    assert docker_config_path({"DOCKER_CONFIG": ""}, HOME) == HOME / ".docker/config.json"
    assert docker_config_path({"DOCKER_CONFIG": "/d"}, HOME) == Path("/d/config.json")


@pytest.mark.parametrize("key,keep,expected", [
    ("https://r.example:5000/v1/", False, "r.example:5000"),
    ("http://r.example/", False, "r.example"),
    ("r.example/team/app", True, "r.example/team/app"),
    ("r.example/team/app", False, "r.example"),
    ("https://index.docker.io/v1/", True, "docker.io"),
    ("registry-1.docker.io/v2", True, "docker.io"),
    ("docker.io/library", True, "docker.io/library"),
    ("index.docker.io/library", False, "docker.io"),
    ("r.example/v1", True, "r.example/v1"),
])
def test_normalise_key(key, keep, expected):
    assert normalise_key(key, keep_path=keep) == expected


# -- what login writes -------------------------------------------------------------------------

def test_login_file_content_and_mode(tmp_path):
    path = tmp_path / "new" / "auth.json"
    store_login(path, "r.example", "u", "p:w")
    assert path.read_text() == json.dumps({"auths": {"r.example": {"auth": _b64("u:p:w")}}}, indent=2) + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700 & ~_umask()
    assert sorted(p.name for p in path.parent.iterdir()) == [".auth.json.lock", "auth.json"]


def test_login_keeps_other_entries(tmp_path):
    path = tmp_path / "auth.json"
    path.write_text(json.dumps({"auths": {"a": {"auth": "x"}}, "credHelpers": {"b": "h"}}))
    store_login(path, "r.example", "u", "p")
    assert json.loads(path.read_text()) == {"auths": {"a": {"auth": "x"}, "r.example": {"auth": _b64("u:p")}},
                                            "credHelpers": {"b": "h"}}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_credential_repr_hides_secrets():
    assert repr(Credential("u", "pw")) == "Credential(username='u', secret='***')"
    assert repr(ANONYMOUS) == "Credential(username='', secret='')"
    assert repr(Credential(registry_token="t")) == "Credential(username='', secret='***')"
