"""Blobs stream from disk: pushing a 500 MB layer keeps peak RSS flat (< 100 MB).

Measured in a child process from /proc/self/status VmHWM (the peak resident set
of its own address space), so nothing else in the test run counts.
"""

from __future__ import annotations

import json
import subprocess
import sys

SIZE = 500 * 1024 * 1024
CHILD = r"""
import hashlib, json, os, sys
from pathlib import Path
from leango.oci import Digest, Image, ImageConfig, Layer, Platform, mediatypes, parse_reference
from leango.oci.config import History
from leango.oci.registry.credentials import CredentialSources
from leango.oci.sinks.registry import push

def hwm():
    # Peak RSS of this address space, in KiB. Not ru_maxrss: Linux carries that
    # across execve from the (v)forking parent, so it would count pytest's peak.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

path, size, host = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
h = hashlib.sha256()
block = os.urandom(1 << 20)
with open(path, "wb") as out:
    for i in range(size >> 20):
        chunk = i.to_bytes(8, "big") + block[8:]
        h.update(chunk)
        out.write(chunk)
digest = Digest("sha256", h.hexdigest())
layer = Layer(mediatypes.OCI_LAYER_TAR, digest, size, digest, path)
cfg = ImageConfig(Platform("linux", "amd64"), (digest,), (History("big"),))
img = Image(cfg, (layer,))
before = hwm()
[res] = push(img, [parse_reference(f"{host}/big/layer:v1")], credentials=CredentialSources())
peak = hwm()
print(json.dumps({"before_kib": before, "peak_kib": peak, "uploaded": res.report.bytes_uploaded}))
"""


def test_push_500mb_layer_in_flat_memory(registry, tmp_path):
    proc = subprocess.run([sys.executable, "-P", "-c", CHILD, str(tmp_path / "big.tar"), str(SIZE), registry.host],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["uploaded"] >= SIZE
    assert result["peak_kib"] < 100 * 1024, f"peak RSS {result['peak_kib'] / 1024:.0f} MiB"
    print(f"peak RSS {result['peak_kib'] / 1024:.0f} MiB (before push {result['before_kib'] / 1024:.0f} MiB)")
    (tmp_path / "big.tar").unlink()
