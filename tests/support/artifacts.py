"""Small artifacts the registry tests attach to images: an SPDX SBOM with a subject."""

from __future__ import annotations

import json

from leango.oci.blob import Blob
from leango.oci.descriptor import Descriptor
from leango.oci.digest import Digest
from leango.oci.index import Index
from leango.oci.manifest import Manifest

SPDX = "application/spdx+json"


def sbom_of(subject: Manifest | Index, name: str = "sbom") -> Manifest:
    """An SPDX 2.3 document (named `name`, so two SBOMs differ) as an artifact referring to `subject`."""
    data = json.dumps({"spdxVersion": "SPDX-2.3", "name": name}).encode()
    blob = Blob(Descriptor(SPDX, Digest.of_bytes(data), len(data)), data=data)
    return Manifest(SPDX, (blob,), subject=subject.descriptor)
