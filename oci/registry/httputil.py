"""HTTP helpers shared by the registry transport and the token client: error mapping, headers, redaction."""

from __future__ import annotations

import email.utils
import json
import re
import time
import unicodedata
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from ..errors import ErrorEntry, RegistryError

MAX_ERROR_BODY = 1 << 20  # after decompression
MAX_JSON_BODY = 4 << 20  # token replies and other small JSON documents, after decompression
MAX_MESSAGE = 300  # characters of registry text shown to the user
QUERY = re.compile(r"\?[^\s\"]*")


def redact(url: str) -> str:
    """A URL fit for logs and messages: no userinfo, no query (upload _state, signatures)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{netloc}{parts.path}" + ("?…" if parts.query else "")


def printable(text: str, limit: int = MAX_MESSAGE) -> str:
    """Registry text fit for a terminal: control and format characters (escape sequences,
    carriage returns, bidi overrides) replaced, and cut to limit characters."""
    clean = "".join(c if c == " " or unicodedata.category(c)[0] not in "CZ" else "?" for c in text)
    return clean if len(clean) <= limit else clean[:limit] + "…"


def read_capped(resp: requests.Response, limit: int, deadline: float) -> bytes:
    """The decoded body, at most limit bytes, read within deadline seconds: a compression bomb
    or a server trickling bytes ends in a RegistryError, not in memory or time without bound."""
    if resp.raw is None:
        return b""
    end, out = time.monotonic() + deadline, bytearray()
    try:
        # read1: whatever has arrived, so a trickle is caught at the deadline, not at the end
        while chunk := resp.raw.read1(64 * 1024, decode_content=True):
            out += chunk
            if len(out) > limit:
                # Final: the same reply comes again (a compression bomb stays one).
                raise RegistryError(f"reply from {redact(resp.url)} is larger than {limit} bytes", transient=False)
            if time.monotonic() > end:
                raise RegistryError(f"reply from {redact(resp.url)} took longer than {deadline:.0f} s")
    except (OSError, ValueError, requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise RegistryError(f"reading the reply from {redact(resp.url)} failed: {reason(exc)}") from exc
    finally:
        resp.close()
    return bytes(out)


def drain(resp: requests.Response, limit: int = MAX_ERROR_BODY) -> None:
    """Read (and discard, undecoded) a small body so the connection can be reused; never fail."""
    try:
        if resp.raw is not None:
            resp.raw.read(limit, decode_content=False)
    except (OSError, ValueError, requests.exceptions.RequestException, urllib3.exceptions.HTTPError):
        resp.close()


def read_error_body(resp: requests.Response, deadline: float = 30.0) -> bytes:
    """At most MAX_ERROR_BODY decoded bytes of an error reply; a broken body reads as empty."""
    try:
        return read_capped(resp, MAX_ERROR_BODY, deadline)
    except RegistryError:
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
                out.append(ErrorEntry(printable(str(entry.get("code") or ""), 60),
                                      printable(str(entry.get("message") or "")),
                                      "" if detail is None else printable(json.dumps(detail, sort_keys=True))))
        return tuple(out)
    text = raw[:MAX_MESSAGE].decode("utf-8", "replace").strip()
    return () if not text or text.startswith("<") else (ErrorEntry("", printable(text)),)


def retry_after(resp: requests.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    value = (resp.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value) if value.isascii() else float("nan")
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
    deadline = re.search(r"no complete response within [0-9.]+ s", text)
    if deadline:
        return deadline.group(0)
    for marker in ("certificate verify failed", "Connection refused", "Read timed out",
                   "Connection reset", "Connection aborted", "timed out", "Name or service not known"):
        if marker.lower() in text.lower():
            return marker.lower() if marker[0].isupper() else marker
    return type(exc).__name__
