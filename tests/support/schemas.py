"""Validate JSON documents against the official OCI image-spec JSON schemas: the check
`leango verify` runs (oci/validate.py), failing the test when the schemas are not installed."""

from __future__ import annotations

from functools import cache

import pytest

from leango.oci.validate import schema_checker


@cache
def _checker():
    check, why = schema_checker()
    if check is None:
        pytest.fail(f"OCI image-spec schemas {why} (scripts/setup installs them)", pytrace=False)
    return check


def validate(kind: str, document: dict | bytes) -> None:
    """Raise OciError if document does not match the schema."""
    _checker()(kind, document)
