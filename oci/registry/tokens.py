"""Bearer tokens from a realm (distribution docs/spec/auth/token.md, oauth.md).

GET realm?service=…&scope=… with Basic credentials (or none: anonymous); with an
identity token, the OAuth2 refresh-token POST first and a GET when the realm
answers 404/405. `token` or `access_token` are both accepted.
"""

from __future__ import annotations

import requests

from ..errors import RegistryError
from .auth import Challenge, basic_header
from .credentials import Credential
from .httputil import oci_error, reason, redact


def fetch_token(session: requests.Session, challenge: Challenge, scopes: tuple[str, ...],
                cred: Credential, *, verify, timeout) -> str:
    realm, service = challenge.get("realm"), challenge.get("service")
    scope_list = list(scopes) or [s for s in challenge.get("scope").split(" ") if s]
    send = lambda method, **kw: _request(session, method, realm, verify=verify, timeout=timeout, **kw)  # noqa: E731
    if cred.identity_token:
        resp = send("POST", data={"grant_type": "refresh_token", "refresh_token": cred.identity_token,
                                  "service": service, "scope": " ".join(scope_list), "client_id": "leango"})
        if resp.status_code not in (404, 405):
            return _token_from(resp, realm)
        resp.close()
    params = [("service", service)] if service else []
    params += [("scope", s) for s in scope_list]
    headers = {"Authorization": basic_header(cred)} if cred.username and cred.password else {}
    return _token_from(send("GET", params=params, headers=headers), realm)


def _request(session, method, realm, *, verify, timeout, **kw) -> requests.Response:
    try:
        return session.request(method, realm, timeout=timeout, verify=verify, allow_redirects=False,
                               stream=True, **kw)
    except requests.exceptions.RequestException as exc:
        raise RegistryError(f"token request to {redact(realm)} failed: {reason(exc)}") from None


def _token_from(resp: requests.Response, realm: str) -> str:
    if resp.status_code != 200:
        code, message = oci_error(resp)
        raise RegistryError(f"token request to {redact(realm)} returned HTTP {resp.status_code}"
                            + (f" ({code or message})" if code or message else "")
                            + ("; check your credentials" if resp.status_code in (401, 403) else ""),
                            status=resp.status_code, code=code)
    try:
        data = resp.json()
        token = data.get("token") or data.get("access_token")
    except (ValueError, AttributeError):
        token = None
    if not token or not isinstance(token, str):
        raise RegistryError(f"token response from {redact(realm)} has no token")
    return token
