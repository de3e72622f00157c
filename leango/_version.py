"""The version, in one place: the installed distribution's metadata (pyproject.toml).

Read on first use: importlib.metadata costs tens of milliseconds at start-up, which a
no-change rebuild should not pay.
"""

from __future__ import annotations

import functools


@functools.cache
def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as distribution_version
    try:
        return distribution_version("leango")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "0+unknown"


def user_agent() -> str:
    return f"leango/{version()}"
