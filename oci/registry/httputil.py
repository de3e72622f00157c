"""HTTP helpers shared by the registry transport and token client."""

from __future__ import annotations

import email.utils
import ipaddress
import json
import logging
import re
import time
from urllib.parse import urlsplit

import requests

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_ERROR_BODY = 1 << 20


class _RedactQueries(logging.Filter):
    """urllib3 logs request lines at DEBUG; strip their queries (upload _state,
    signed-URL parameters) so debug output never carries secrets (checklist 26)."""

    _QUERY = re.compile(r"\?[^\s\"]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(self._QUERY.sub("?…", a) if isinstance(a, str) else a
                                for a in record.args)
        record.msg = self._QUERY.sub("?…", str(record.msg))
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactQueries())


def is_loopback(host: str) -> bool:
    """host is "name[:port]" or "[v6][:port]"; true for localhost and loopback IPs."""
    name = urlsplit(f"//{host}").hostname or ""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def redact(url: str) -> str:
    """A URL fit for logs and messages: no query (upload _state, signatures)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


def oci_error(resp: requests.Response) -> tuple[str, str]:
    """(code, message) from an OCI error body, read at most MAX_ERROR_BODY bytes."""
    try:
        raw = resp.raw.read(MAX_ERROR_BODY, decode_content=True) if resp.raw else b""
    except Exception:  # noqa: BLE001 - a broken error body must not hide the status
        raw = b""
    try:
        errors = json.loads(raw).get("errors") or []
        first = errors[0]
        return str(first.get("code", "")), str(first.get("message", ""))
    except (ValueError, AttributeError, IndexError, TypeError):
        text = raw[:200].decode("utf-8", "replace").strip()
        return "", "" if text.lstrip().startswith("<") else text


def retry_after(resp: requests.Response, cap: float) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        seconds = when.timestamp() - time.time() if when else 0.0
    return max(0.0, min(seconds, cap))


def reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("certificate verify failed", "Connection refused", "Read timed out",
                   "Connection reset", "Connection aborted", "timed out", "Name or service not known"):
        if marker.lower() in text.lower():
            return marker.lower() if marker[0].isupper() else marker
    return type(exc).__name__
