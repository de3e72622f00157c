"""Bearer tokens from a realm (distribution docs/spec/auth/token.md, oauth.md).

GET realm?service=…&scope=… with Basic credentials (or none: anonymous); with an
identity token, the OAuth2 refresh-token POST first and a GET when the realm
answers 404/405. `token` or `access_token` are both accepted.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from ..errors import RegistryError
from .auth import Challenge, basic_header
from .credentials import Credential
from .deadline import RESPONSE_DEADLINE
from .httputil import MAX_JSON_BODY, error_entries, read_capped, read_error_body, reason, redact, retry_after
from .proxy import ProxyConfig


def fetch_token(session: requests.Session, challenge: Challenge, scopes: tuple[str, ...],
                cred: Credential, *, timeout: tuple[float, float], proxy: ProxyConfig | None = None) -> str:
    realm, service = challenge.get("realm"), challenge.get("service")
    scope_list = list(scopes) or [s for s in challenge.get("scope").split(" ") if s]
    proxies = (proxy or ProxyConfig()).requests_proxies(realm)
    send = lambda method, **kw: _request(session, method, realm, timeout=timeout, proxies=proxies, **kw)
    if cred.identity_token:
        resp = send("POST", data={"grant_type": "refresh_token", "refresh_token": cred.identity_token,
                                  "service": service, "scope": " ".join(scope_list), "client_id": "leango"})
        if resp.status_code not in (404, 405):
            return _token_from(resp, realm, timeout[1])
        resp.close()
    params = [("service", service)] if service else []
    params += [("scope", s) for s in scope_list]
    headers = {"Authorization": basic_header(cred)} if cred.username and cred.password else {}
    return _token_from(send("GET", params=params, headers=headers), realm, timeout[1])


def _request(session: requests.Session, method: str, realm: str, *, timeout: tuple[float, float],
             **kw: Any) -> requests.Response:
    token = RESPONSE_DEADLINE.set(timeout[1] * 2)
    try:
        return session.request(method, realm, timeout=timeout, allow_redirects=False, stream=True, **kw)
    except requests.exceptions.SSLError as exc:  # a certificate does not change between attempts
        raise RegistryError(f"token request to {redact(realm)} failed: {reason(exc)}", transient=False) from exc
    except requests.exceptions.RequestException as exc:
        raise RegistryError(f"token request to {redact(realm)} failed: {reason(exc)}") from exc
    finally:
        RESPONSE_DEADLINE.reset(token)


def _token_from(resp: requests.Response, realm: str, deadline: float) -> str:
    if resp.status_code != 200:
        entries = error_entries(read_error_body(resp, deadline))
        detail = "; ".join(str(e) for e in entries)
        raise RegistryError(f"token request to {redact(realm)} returned HTTP {resp.status_code}"
                            + (f" ({detail})" if detail else "")
                            + ("; check your credentials" if resp.status_code in (401, 403) else ""),
                            status=resp.status_code, errors=entries, retry_after=retry_after(resp))
    try:
        data = json.loads(read_capped(resp, MAX_JSON_BODY, deadline))
        token = data.get("token") or data.get("access_token")
    except (ValueError, AttributeError):
        token = None
    if not token or not isinstance(token, str):
        raise RegistryError(f"token response from {redact(realm)} has no token", transient=False)
    return token
