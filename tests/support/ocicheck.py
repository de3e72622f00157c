"""Check a whole OCI layout: digests re-derived, every document schema-valid."""

from __future__ import annotations

import json
from pathlib import Path

from leango.oci import mediatypes
from leango.oci.validate import validate_layout

from . import schemas


def check_layout(root: Path):
    """validate_layout + schema validation of index.json, oci-layout and every JSON blob."""
    report = validate_layout(root)
    schemas.validate("layout", json.loads((root / "oci-layout").read_bytes()))
    schemas.validate("index", json.loads((root / "index.json").read_bytes()))
    for digest in report.manifests:
        manifest = json.loads((root / "blobs" / "sha256" / digest.hex).read_bytes())
        schemas.validate("manifest", manifest)
        if manifest["config"]["mediaType"] == mediatypes.OCI_CONFIG:
            config = json.loads((root / "blobs" / "sha256" / manifest["config"]["digest"][7:]).read_bytes())
            schemas.validate("config", config)
    for digest in report.blobs:
        path = root / "blobs" / "sha256" / digest.hex
        assert path.is_file() and not path.is_symlink()
    for path in (root / "blobs" / "sha256").iterdir():
        data = path.read_bytes()
        if data[:1] == b"{":
            doc = json.loads(data)
            if doc.get("mediaType") == mediatypes.OCI_INDEX:
                schemas.validate("index", doc)
    return report
