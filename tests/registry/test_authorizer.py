"""The Authorizer on its own: each 401 outcome, the token cache per scope, the realm checks,
and challenge parsing condition by condition. Written against the survivors of scripts/mutation."""

from __future__ import annotations

import base64
import logging

import pytest

from leango.oci.errors import RegistryError
from leango.oci.registry.auth import Authorizer, Challenge, basic_header, parse_challenges
from leango.oci.registry.credentials import ANONYMOUS, Credential

REG = "https://r.example"
BEARER = 'Bearer realm="https://r.example/token",service="r.example"'
SCOPES = ("repository:a:pull,push",)


class Tokens:
    def __init__(self):
        self.calls = []

    def __call__(self, challenge, scopes, credential):
        self.calls.append((challenge, scopes, credential))
        return f"t{len(self.calls)}"


def authorizer(cred=ANONYMOUS):
    tokens = Tokens()
    return Authorizer(REG, cred, tokens), tokens


def test_no_challenge_means_no_header():
    auth, tokens = authorizer(Credential("u", "p"))
    assert auth.header(SCOPES) is None and tokens.calls == []


def test_401_without_challenge():
    auth, _ = authorizer()
    for header in ("", "Negotiate", "Digest realm=x"):
        with pytest.raises(RegistryError) as err:
            auth.on_unauthorized(header, SCOPES, None)
        assert str(err.value).startswith("registry answered HTTP 401 (authentication required) without a usable "
                                         "WWW-Authenticate challenge")
        assert err.value.status == 401


def test_basic_without_credentials():
    auth, _ = authorizer()
    with pytest.raises(RegistryError) as err:
        auth.on_unauthorized('Basic realm="r"', SCOPES, None)
    assert str(err.value).startswith("registry requires a login and no credentials were found "
                                     "(use `leango login` or a docker/podman login)")
    assert err.value.status == 401
    assert auth.header(SCOPES) is None  # learnt, but nothing to send


def test_basic_with_credentials_then_rejected():
    cred = Credential("u", "p:w")
    auth, tokens = authorizer(cred)
    value = auth.on_unauthorized('Basic realm="r"', SCOPES, None)
    assert value == "Basic " + base64.b64encode(b"u:p:w").decode() == basic_header(cred)
    assert auth.header(SCOPES) == value and tokens.calls == []
    with pytest.raises(RegistryError) as err:
        auth.on_unauthorized('Basic realm="r"', SCOPES, value)
    assert str(err.value).startswith("authentication failed: the registry rejected the credentials")
    assert err.value.status == 401


def test_bearer_preferred_over_basic_in_either_order():
    for header in (f'Basic realm="x", {BEARER}', f'{BEARER}, Basic realm="x"'):
        auth, tokens = authorizer(Credential("u", "p"))
        assert auth.on_unauthorized(header, SCOPES, None) == "Bearer t1"
        assert tokens.calls[0][0].scheme == "bearer"


def test_bearer_token_cached_per_scope():
    auth, tokens = authorizer()
    assert auth.on_unauthorized(BEARER, SCOPES, None) == "Bearer t1"
    assert auth.header(SCOPES) == "Bearer t1"
    assert auth.header(("repository:b:pull",)) == "Bearer t2"
    assert [c[1] for c in tokens.calls] == [SCOPES, ("repository:b:pull",)]


def test_rejected_token_is_replaced_not_resent():
    auth, tokens = authorizer()
    first = auth.on_unauthorized(BEARER, SCOPES, None)
    assert auth.on_unauthorized(BEARER, SCOPES, first) == "Bearer t2"
    assert len(tokens.calls) == 2


def test_token_replaced_by_another_thread_is_used():
    auth, tokens = authorizer()
    auth.on_unauthorized(BEARER, SCOPES, None)  # t1 cached
    assert auth.on_unauthorized(BEARER, SCOPES, "Bearer stale") == "Bearer t1"
    assert len(tokens.calls) == 1


def test_insufficient_scope_gets_a_new_token(caplog):
    auth, tokens = authorizer()
    first = auth.on_unauthorized(BEARER, SCOPES, None)
    assert len(tokens.calls) == 1
    with caplog.at_level(logging.DEBUG, logger="leango.oci.registry.auth"):
        again = auth.on_unauthorized(BEARER + ',error="insufficient_scope"', SCOPES, first)
    assert again == "Bearer t2"
    assert [r.getMessage() for r in caplog.records] == [
        "token lacks scope repository:a:pull,push; requesting a new one"]


def test_insufficient_scope_names_every_scope(caplog):
    auth, _ = authorizer()
    scopes = ("repository:a:pull,push", "repository:b:pull")
    first = auth.on_unauthorized(BEARER, scopes, None)
    with caplog.at_level(logging.DEBUG, logger="leango.oci.registry.auth"):
        auth.on_unauthorized(BEARER + ',error="insufficient_scope"', scopes, first)
    assert [r.getMessage() for r in caplog.records] == [
        "token lacks scope repository:a:pull,push repository:b:pull; requesting a new one"]


def test_bearer_without_realm():
    auth, _ = authorizer()
    with pytest.raises(RegistryError) as err:
        auth.on_unauthorized('Bearer service="r"', SCOPES, None)
    assert str(err.value).startswith("bearer challenge without a realm") and err.value.status == 401


def test_realm_downgrade_is_refused():
    auth, tokens = authorizer()
    with pytest.raises(RegistryError):
        auth.on_unauthorized('Bearer realm="http://r.example/token"', SCOPES, None)
    assert tokens.calls == []


def test_registry_token_is_used_as_is():
    auth, tokens = authorizer(Credential(registry_token="given"))
    assert auth.on_unauthorized(BEARER, SCOPES, None) == "Bearer given"
    assert tokens.calls == []


def test_fetch_gets_the_challenge_and_credential():
    cred = Credential("u", "p")
    auth, tokens = authorizer(cred)
    auth.on_unauthorized(BEARER, SCOPES, None)
    challenge, scopes, given = tokens.calls[0]
    assert (challenge.get("realm"), challenge.get("service"), scopes, given) == \
        ("https://r.example/token", "r.example", SCOPES, cred)


def test_learn_returns_the_chosen_challenge():
    auth, _ = authorizer()
    assert auth.learn("") is None
    assert auth.learn("Negotiate abc") is None
    chosen = auth.learn('Basic realm="x"')
    assert chosen == Challenge("basic", (("realm", "x"),))


def test_challenge_get_default():
    c = Challenge("bearer", (("realm", "r"),))
    assert c.get("realm") == "r" and c.get("service") == "" and c.get("service", "d") == "d"


@pytest.mark.parametrize("header,expected", [
    ('Bearer realm="a"', [Challenge("bearer", (("realm", "a"),))]),
    ('BASIC Realm="a b"', [Challenge("basic", (("realm", "a b"),))]),
    ('Bearer realm=a,scope="x y"', [Challenge("bearer", (("realm", "a"), ("scope", "x y")))]),
    ('Bearer realm="a\\"b"', [Challenge("bearer", (("realm", 'a"b'),))]),
    ('Bearer realm = "a" , service="s"', [Challenge("bearer", (("realm", "a"), ("service", "s")))]),
    ('Basic realm="x", Bearer realm="y"',
     [Challenge("basic", (("realm", "x"),)), Challenge("bearer", (("realm", "y"),))]),
    ("Bearer", [Challenge("bearer", ())]),
    ("  ", []),
    ("=x", []),
])
def test_parse_challenges(header, expected):
    assert parse_challenges(header) == expected
