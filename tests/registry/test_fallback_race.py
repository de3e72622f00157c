"""Two processes attaching to one image on a registry without the referrers API both rewrite its
fallback tag; neither may lose the other's entries (issue 18: re-read and write again)."""

from __future__ import annotations

import subprocess
import sys
import time

from leango.oci.blob import Blob
from leango.oci.descriptor import Descriptor
from leango.oci.digest import Digest
from leango.oci.manifest import Manifest
from leango.oci.registry.client import Registry
from support.paths import REPO


def test_concurrent_writers_keep_every_entry(registry):
    data = b"the subject"
    subject = Manifest("application/vnd.test.subject",
                       (Blob(Descriptor("application/vnd.test", Digest.of_bytes(data), len(data)), data=data),))
    with Registry() as client:
        client.repository(registry.host, "race/app").push(subject, ("v1",))
    start_at = str(time.time() + 2)
    procs = [subprocess.Popen([sys.executable, "-m", "support.fallback_writer", registry.host, "race/app",
                               f"{subject.digest}@{subject.descriptor.size}", name, "6", start_at],
                              cwd=REPO / "tests", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("a", "b")]
    written = set()
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        written |= set(out.split())
    assert len(written) == 12
    with Registry() as client:
        listed = {str(d.digest) for d in client.repository(registry.host, "race/app").referrers(subject.digest)}
    assert listed == written
