"""Exceptions raised by the oci package: one root, context on the exception."""


class OciError(Exception):
    """Root of every error the oci package raises."""


class DigestError(OciError):
    """A digest string is malformed or uses an unsupported algorithm."""


class DigestMismatch(OciError):
    """Content does not hash to the digest (or size) recorded for it."""

    def __init__(self, what: str, expected: str, actual: str):
        super().__init__(f"{what}: expected {expected}, got {actual}")
        self.what = what
        self.expected = expected
        self.actual = actual


class InvalidReference(OciError):
    """An image reference (registry/repo[:tag][@digest]) is invalid."""


class LayoutError(OciError):
    """An OCI image layout is missing, malformed or cannot be written."""


class ArchiveError(OciError):
    """An archive (OCI or docker) cannot be written or read."""


class TarError(OciError):
    """A layer tar entry is unsafe or cannot be normalised."""


class RegistryError(OciError):
    """A registry rejected a request or could not be reached.

    status is the HTTP status (None for transport failures), code the first OCI
    error code from the body (e.g. DENIED, NAME_UNKNOWN), when there was one.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str = "",
                 retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after
