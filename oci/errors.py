"""Exceptions raised by the oci package: one root, context on the exception."""

from __future__ import annotations

from dataclasses import dataclass


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


# The distribution spec's error codes ("Error Codes"), as registries send them in error bodies.
BLOB_UNKNOWN = "BLOB_UNKNOWN"
BLOB_UPLOAD_INVALID = "BLOB_UPLOAD_INVALID"
BLOB_UPLOAD_UNKNOWN = "BLOB_UPLOAD_UNKNOWN"
DIGEST_INVALID = "DIGEST_INVALID"
MANIFEST_BLOB_UNKNOWN = "MANIFEST_BLOB_UNKNOWN"
MANIFEST_INVALID = "MANIFEST_INVALID"
MANIFEST_UNKNOWN = "MANIFEST_UNKNOWN"
NAME_INVALID = "NAME_INVALID"
NAME_UNKNOWN = "NAME_UNKNOWN"
SIZE_INVALID = "SIZE_INVALID"
UNAUTHORIZED = "UNAUTHORIZED"
DENIED = "DENIED"
UNSUPPORTED = "UNSUPPORTED"
TOOMANYREQUESTS = "TOOMANYREQUESTS"


@dataclass(frozen=True)
class ErrorEntry:
    """One entry of a registry's error body (distribution spec "Error Codes")."""
    code: str
    message: str = ""
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code and self.message else self.code or self.message


class RegistryError(OciError):
    """A registry rejected a request or could not be reached.

    status is the HTTP status (None for transport failures); errors holds every
    entry of the registry's error body, code the first entry's code (e.g. DENIED,
    NAME_UNKNOWN); attempts counts the tries made before giving up.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str = "",
                 retry_after: float | None = None, errors: tuple[ErrorEntry, ...] = (),
                 attempts: int = 1, transient: bool | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.errors = errors
        self.code = code or (errors[0].code if errors else "")
        self.retry_after = retry_after
        self.attempts = attempts
        self.transient = transient  # None: judged by status (see registry.retry)

    def __str__(self) -> str:
        return self.message + (f" (after {self.attempts} attempts)" if self.attempts > 1 else "")

    def has_code(self, *codes: str) -> bool:
        return any(e.code in codes for e in self.errors) or self.code in codes

    @property
    def not_found(self) -> bool:
        """The repository, manifest or blob is not there (404, or its distribution-spec code)."""
        return self.status == 404 or self.has_code(NAME_UNKNOWN, MANIFEST_UNKNOWN, BLOB_UNKNOWN)

    @property
    def unauthorized(self) -> bool:
        """No (valid) credentials were presented: log in."""
        return self.status == 401 or self.has_code(UNAUTHORIZED)

    @property
    def denied(self) -> bool:
        """The credentials were accepted but may not do this: ask for the rights."""
        return self.status == 403 or self.has_code(DENIED)
