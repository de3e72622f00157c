"""From Go source to an oci.Image or oci.Index. Knows nothing of click."""

from .api import build, spec_from
from .errors import (
                     BuildahError,
                     BuildError,
                     CompileError,
                     Interrupted,
                     NotStaticError,
                     SourceError,
                     SpecError,
                     ToolchainError,
)
from .pipeline import BuildResult
from .runner import Result, Runner, SubprocessRunner
from .spec import BuildSpec, Outputs, PushOptions

__all__ = [
                     "BuildError",
                     "BuildResult",
                     "BuildSpec",
                     "BuildahError",
                     "CompileError",
                     "Interrupted",
                     "NotStaticError",
                     "Outputs",
                     "PushOptions",
                     "Result",
                     "Runner",
                     "SourceError",
                     "SpecError",
                     "SubprocessRunner",
                     "ToolchainError",
                     "build",
                     "spec_from",
]
