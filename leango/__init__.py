"""leango: minimal FROM-scratch OCI images from Go main packages, without a Docker daemon.

The public face of the package. `leango.oci` is the content model and the outputs
(knows nothing of Go or buildah); `leango.builder` goes from Go source to an image.

    from leango import BuildSpec, build, SubprocessRunner

Names are loaded on first use, so `import leango.oci` does not import the builder.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import version as _version

if TYPE_CHECKING:
    __version__: str
    from .builder import (
        BuildahError,
        BuildError,
        BuildResult,
        BuildSpec,
        CompileError,
        Interrupted,
        NotStaticError,
        Outputs,
        PushOptions,
        Runner,
        SourceError,
        SpecError,
        SubprocessRunner,
        ToolchainError,
        build,
        spec_from,
    )
    from .oci import Image, Index, OciError, Platform, Reference, RegistryError, parse_reference

_FROM_BUILDER = ("BuildError", "BuildResult", "BuildSpec", "BuildahError", "CompileError", "Interrupted",
                 "NotStaticError", "Outputs", "PushOptions", "Runner", "SourceError", "SpecError",
                 "SubprocessRunner", "ToolchainError", "build", "spec_from")
_FROM_OCI = ("Image", "Index", "OciError", "Platform", "Reference", "RegistryError", "parse_reference")

__all__ = [
    "BuildError", "BuildResult", "BuildSpec", "BuildahError", "CompileError", "Image", "Index",
    "Interrupted", "NotStaticError", "OciError", "Outputs", "Platform", "PushOptions", "Reference",
    "RegistryError", "Runner", "SourceError", "SpecError", "SubprocessRunner", "ToolchainError",
    "__version__", "build", "parse_reference", "spec_from",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        return _version()
    if name in _FROM_BUILDER:
        return getattr(importlib.import_module(".builder", __name__), name)
    if name in _FROM_OCI:
        return getattr(importlib.import_module(".oci", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
