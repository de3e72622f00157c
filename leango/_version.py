"""The version, in one place: the installed distribution's metadata (pyproject.toml)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("leango")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

USER_AGENT = f"leango/{__version__}"
