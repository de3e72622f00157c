"""HTTP helpers shared by the registry transport and the token client: error mapping, headers, redaction."""

from __future__ import annotations

import email.utils
import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from ..errors import ErrorEntry

MAX_ERROR_BODY = 1 << 20
QUERY = re.compile(r"\?[^\s\"]*")


def redact(url: str) -> str:
    """A URL fit for logs and messages: no query (upload _state, signatures)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


def read_error_body(resp: requests.Response) -> bytes:
    """At most MAX_ERROR_BODY bytes of an error reply; a broken body reads as empty."""
    if resp.raw is None:
        return b""
    try:
        return resp.raw.read(MAX_ERROR_BODY, decode_content=True) or b""
    except (OSError, ValueError, requests.exceptions.RequestException, urllib3.exceptions.HTTPError):
        return b""


def error_entries(raw: bytes) -> tuple[ErrorEntry, ...]:
    """Every entry of an OCI error body {"errors": [{"code", "message", "detail"}]}, or the text."""
    try:
        doc: Any = json.loads(raw)
        errors = doc.get("errors") if isinstance(doc, dict) else None
    except ValueError:
        errors = None
    if isinstance(errors, list) and errors:
        out = []
        for entry in errors:
            if isinstance(entry, dict):
                detail = entry.get("detail")
                out.append(ErrorEntry(str(entry.get("code") or ""), str(entry.get("message") or ""),
                                      "" if detail is None else json.dumps(detail, sort_keys=True)))
        return tuple(out)
    text = raw[:200].decode("utf-8", "replace").strip()
    return () if not text or text.startswith("<") else (ErrorEntry("", text),)


def retry_after(resp: requests.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    value = (resp.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def reason(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("certificate verify failed", "Connection refused", "Read timed out",
                   "Connection reset", "Connection aborted", "timed out", "Name or service not known"):
        if marker.lower() in text.lower():
            return marker.lower() if marker[0].isupper() else marker
    return type(exc).__name__
