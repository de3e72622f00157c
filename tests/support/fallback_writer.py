"""A process attaching referrers to one subject (tests/registry/test_fallback_race.py):
python -m support.fallback_writer HOST REPO SUBJECT_DIGEST NAME COUNT START_AT"""

from __future__ import annotations

import sys
import time

from leango.oci.blob import Blob
from leango.oci.descriptor import Descriptor
from leango.oci.digest import Digest
from leango.oci.manifest import Manifest
from leango.oci.mediatypes import OCI_MANIFEST
from leango.oci.registry.client import Registry


def main() -> None:
    host, repo, subject, name, count, start_at = sys.argv[1:7]
    subject_desc = Descriptor(OCI_MANIFEST, Digest.parse(subject.split("@")[0]), int(subject.split("@")[1]))
    time.sleep(max(0.0, float(start_at) - time.time()))  # both processes start together
    with Registry() as client:
        repository = client.repository(host, repo)
        for i in range(int(count)):
            data = f"{name}-{i}".encode()
            layer = Blob(Descriptor("application/vnd.test", Digest.of_bytes(data), len(data)), data=data)
            referrer = Manifest("application/vnd.test.race", (layer,), subject=subject_desc)
            repository.push(referrer)
            print(referrer.digest, flush=True)


if __name__ == "__main__":
    main()
