"""Exceptions raised by the builder package: one root, with a hint for the user."""


class BuildError(Exception):
    """Root of every error the builder package raises.

    `hint` is one short sentence telling the user how to fix it, when we know.
    """

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} ({self.hint})" if self.hint else base


class SpecError(BuildError):
    """The build options are invalid (bad platform, path, flag value…)."""


class SourceError(BuildError):
    """The source directory is missing, has no Go files, or is not a main package."""


class ToolchainError(BuildError):
    """No usable Go toolchain was found."""


class BuildahError(BuildError):
    """buildah is missing or a buildah command failed."""


class CompileError(BuildError):
    """`go build` failed; the message carries the compiler's output."""


class NotStaticError(BuildError):
    """The binary is dynamically linked or built for the wrong machine."""


class Interrupted(BuildError):
    """The build was interrupted by a signal (SIGINT/SIGTERM)."""


class BuildTimeout(BuildError):
    """The work in the container took longer than --timeout."""


class DownloadError(BuildError):
    """Modules could not be downloaded (or, --offline, are not in the module cache)."""
