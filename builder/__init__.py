"""From Go source to an oci.Image or oci.Index. Knows nothing of click."""

__version__ = "0.1.0"

from .errors import (BuildahError, BuildError, CompileError, Interrupted, NotStaticError,
                     SourceError, SpecError, ToolchainError)
from .pipeline import BuildResult, build
from .runner import Result, Runner, SubprocessRunner
from .spec import BuildSpec, Outputs

__all__ = [
    "BuildError", "BuildResult", "BuildSpec", "BuildahError", "CompileError", "Interrupted",
    "NotStaticError", "Outputs", "Result", "Runner", "SourceError", "SpecError",
    "SubprocessRunner", "ToolchainError", "__version__", "build",
]
