"""Validate JSON documents against the official OCI image-spec JSON schemas.

The schemas come from Debian's golang-github-opencontainers-image-spec-dev.
They refer to each other by file name ("defs-descriptor.json"), so they are
loaded into one referencing Registry keyed by both file name and `id`.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SCHEMA_DIR = Path("/usr/share/gocode/src/github.com/opencontainers/image-spec/schema")
BASE = "https://opencontainers.org/schema/image/"
SCHEMAS = {
    "manifest": "image-manifest-schema.json",
    "index": "image-index-schema.json",
    "config": "config-schema.json",
    "layout": "image-layout-schema.json",
    "descriptor": "content-descriptor.json",
}


@cache
def _registry() -> Registry:
    if not SCHEMA_DIR.is_dir():
        pytest.fail("OCI image-spec schemas missing: apt-get install "
                    "golang-github-opencontainers-image-spec-dev (scripts/setup)", pytrace=False)
    resources = []
    for path in SCHEMA_DIR.glob("*.json"):
        contents = json.loads(path.read_text())
        resource = Resource.from_contents(contents, default_specification=DRAFT4)
        resources.append((BASE + path.name, resource))
        resources.append((path.name, resource))
    return Registry().with_resources(resources)


def validate(kind: str, document: dict | bytes) -> None:
    """Raise jsonschema.ValidationError if document does not match the schema."""
    if isinstance(document, (bytes, str)):
        document = json.loads(document)
    schema = json.loads((SCHEMA_DIR / SCHEMAS[kind]).read_text()) if SCHEMA_DIR.is_dir() else None
    registry = _registry()
    schema = dict(schema)
    schema["id"] = BASE + SCHEMAS[kind]
    Draft4Validator(schema, registry=registry).validate(document)
