"""Registry authentication: challenges, Basic, and Bearer tokens cached per scope.

Follows the distribution token spec (docs/spec/auth/token.md) and what
go-containerregistry's transport does: a token per scope set, refreshed once
when rejected, a new token (not the old one resent) on insufficient_scope,
OAuth2 refresh-token POST with a GET fallback, and no credentials to a realm
that would downgrade to http or point at a metadata address.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import RegistryError
from .credentials import Credential
from .guard import check_redirect_target

log = logging.getLogger(__name__)
_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lowercased: "basic" or "bearer"
    params: tuple[tuple[str, str], ...]

    def get(self, key: str, default: str = "") -> str:
        return dict(self.params).get(key, default)


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a WWW-Authenticate value (RFC 7235), possibly with several challenges."""
    out: list[Challenge] = []
    rest = header.strip()
    while rest:
        match = re.match(r"([A-Za-z][A-Za-z0-9_-]*)\s*", rest)
        if not match:
            break
        scheme, rest = match.group(1).lower(), rest[match.end():]
        params = []
        while True:
            pm = _PARAM.match(rest)
            if not pm:
                break
            value = pm.group(2) if pm.group(2) is not None else pm.group(3)
            params.append((pm.group(1).lower(), re.sub(r"\\(.)", r"\1", value)))
            rest = rest[pm.end():]
        out.append(Challenge(scheme, tuple(params)))
        rest = rest.lstrip(", ")
    return out


def basic_header(cred: Credential) -> str:
    raw = f"{cred.username}:{cred.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


class Authorizer:
    """Holds one registry's credential and its tokens; thread-safe."""

    def __init__(self, registry_url: str, credential: Credential,
                 fetch_token: Callable[[Challenge, tuple[str, ...], Credential], str]):
        self.registry_url = registry_url
        self.credential = credential
        self._fetch_token = fetch_token  # (challenge, scopes, credential) -> str
        self._challenge: Challenge | None = None
        self._tokens: dict[tuple[str, ...], str] = {}
        self._lock = threading.Lock()
        self._scope_locks: dict[tuple[str, ...], threading.Lock] = {}

    def _scope_lock(self, scopes: tuple[str, ...]) -> threading.Lock:
        # Single flight: parallel uploads needing the same scope share one token request.
        with self._lock:
            return self._scope_locks.setdefault(scopes, threading.Lock())

    def header(self, scopes: tuple[str, ...]) -> str | None:
        """The Authorization value to send pre-emptively, if we know how."""
        with self._lock:
            challenge = self._challenge
            if challenge is None:
                return None
            if challenge.scheme == "basic":
                return basic_header(self.credential) if self.credential.username else None
        with self._scope_lock(scopes):
            token = self._tokens.get(scopes) or self._new_token(challenge, scopes)
        return f"Bearer {token}"

    def learn(self, www_authenticate: str) -> Challenge | None:
        """Remember how the registry wants us to authenticate (Bearer preferred)."""
        challenges = parse_challenges(www_authenticate or "")
        chosen = next((c for c in challenges if c.scheme == "bearer"), None) or \
            next((c for c in challenges if c.scheme == "basic"), None)
        if chosen is not None:
            with self._lock:
                self._challenge = chosen
        return chosen

    def on_unauthorized(self, www_authenticate: str, scopes: tuple[str, ...], sent: str | None) -> str:
        """Handle a 401: return the Authorization value to retry with, or raise. A 401 without a
        challenge (GCR and Artifact Registry answer some endpoints so) is answered with the one
        GET /v2/ gave."""
        with self._lock:
            known = self._challenge
        chosen = self.learn(www_authenticate) or known
        if chosen is None:
            raise RegistryError("registry answered HTTP 401 (authentication required) without a usable "
                                "WWW-Authenticate challenge", status=401)
        if chosen.scheme == "basic":
            if not self.credential.username:
                raise RegistryError("registry requires a login and no credentials were found "
                                    "(use `leango login` or a docker/podman login)", status=401)
            value = basic_header(self.credential)
            if sent == value:
                raise RegistryError("authentication failed: the registry rejected the credentials",
                                    status=401)
            return value
        if chosen.get("error") == "insufficient_scope":
            log.debug("token lacks scope %s; requesting a new one", " ".join(scopes))
        with self._scope_lock(scopes):
            current = self._tokens.get(scopes)
            if current and f"Bearer {current}" != sent:
                return f"Bearer {current}"  # another thread already replaced the rejected token
            # The sent token was rejected or lacks scope: never resend it.
            return f"Bearer {self._new_token(chosen, scopes)}"

    def _new_token(self, challenge: Challenge, scopes: tuple[str, ...]) -> str:
        realm = challenge.get("realm")
        if not realm:
            raise RegistryError("bearer challenge without a realm", status=401)
        check_redirect_target(self.registry_url, realm, "token realm")
        if self.credential.registry_token:
            token = self.credential.registry_token
        else:
            token = self._fetch_token(challenge, scopes, self.credential)
        with self._lock:
            self._tokens[scopes] = token
        return token
