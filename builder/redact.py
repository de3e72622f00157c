"""Secrets out of what leango prints: URLs with userinfo are shown redacted, as the go command does.

GOPROXY may be `https://ci-bot:TOKEN@goproxy.corp.example`, HTTPS_PROXY `http://user:PASS@proxy:3128`;
their userinfo never reaches a log line or a message (and never an argv: gorun.py passes them to the
build container through a file and buildah's environment).
"""

from __future__ import annotations

import re

# scheme://userinfo@ — the userinfo runs to the last '@' before the path (a password may hold '@').
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s\"']*@")


def redact(text: str) -> str:
    """text with the userinfo of every URL in it replaced by `xxxxx`."""
    return _USERINFO.sub(r"\1xxxxx@", text)


def without_userinfo(text: str) -> str:
    """text with the userinfo of every URL in it removed (for what is kept, not shown: provenance)."""
    return _USERINFO.sub(r"\1", text)
