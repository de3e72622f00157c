"""The version, in one place: the installed distribution's metadata (pyproject.toml).

Read on first use, and from the METADATA file of the one `leango-*.dist-info` beside the
package when there is exactly one (as a wheel installs it): importlib.metadata costs about
30 ms at start-up (it imports the email package), which a no-change rebuild should not pay.
Anything else (an editable or source-tree import, two dist-infos) asks importlib.metadata.
"""

from __future__ import annotations

import functools
from pathlib import Path


@functools.cache
def version() -> str:
    return _from_dist_info(Path(__file__).resolve().parent.parent) or _from_importlib()


def _from_dist_info(site: Path) -> str:
    found = list(site.glob("leango-*.dist-info/METADATA"))
    if len(found) != 1:
        return ""
    try:
        with found[0].open(encoding="utf-8") as f:
            for line in f:
                if not line.strip():  # the headers end at the first blank line
                    break
                name, _, value = line.partition(":")
                if name == "Version":
                    return value.strip()
    except (OSError, UnicodeDecodeError):
        pass
    return ""


def _from_importlib() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as distribution_version
    try:
        return distribution_version("leango")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "0+unknown"


def user_agent() -> str:
    return f"leango/{version()}"
