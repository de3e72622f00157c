"""--load podman and --load containerd[=NAMESPACE]: the image straight into a local image store,
every platform of an index, no tarball left behind.

podman: the caller's containers-storage (rootless too: podman uses the user's own storage), so
`podman run` and `buildah from` see the image at once. Each platform image is pulled by podman
from a temporary OCI layout (its digest kept), and an index becomes a podman manifest list
under the image's names, listing the same platform manifests (podman writes the list document
itself, so the list's digest is podman's, not leango's; the platform images keep theirs). The
temporary layout, under the cache directory, is removed whatever happens.

containerd: `ctr images import --all-platforms -` reads an OCI archive streamed to its stdin (no
file written), each name carried in the io.containerd.image.name annotation. ctr finds
containerd as it always does: CONTAINERD_ADDRESS, else /run/containerd/containerd.sock.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from ..oci.artifact import Artifact
from ..oci.index import Index
from ..oci.reference import Reference
from ..oci.sinks.archive import blob_entries
from ..oci.sinks.base import SinkKind, SinkResult, named
from ..oci.sinks.layout import LAYOUT_FILE, index_json, write_layout
from ..oci.tarfs import bytes_entry, write_tar
from .errors import BuildError, SpecError

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
STORES = ("podman", "containerd")


@dataclass(frozen=True)
class LoadTarget:
    """Where --load puts the image: "podman", or "containerd" with its namespace."""
    store: str
    namespace: str = ""

    @classmethod
    def parse(cls, text: str) -> LoadTarget:
        store, sep, namespace = text.partition("=")
        if store not in STORES:
            raise SpecError(f"unknown --load target {text!r}", "use podman, containerd or containerd=NAMESPACE")
        if store == "podman" and sep:
            raise SpecError(f"--load {text}: podman takes no namespace", "use --load podman")
        if store == "containerd":
            namespace = namespace if sep else "default"
            if not namespace or not all(c.isalnum() or c in "._-" for c in namespace):
                raise SpecError(f"invalid containerd namespace {namespace!r}",
                                "letters, digits, '.', '_' and '-' (k8s.io for a kubelet)")
        return cls(store, namespace)

    def __str__(self) -> str:
        return f"containerd={self.namespace}" if self.store == "containerd" else self.store

    def program(self) -> str:
        """The command it runs (podman or ctr), located now: missing, it fails before the build."""
        name = "podman" if self.store == "podman" else "ctr"
        path = shutil.which(name)
        if path is None:
            package = "podman" if name == "podman" else "containerd"
            raise SpecError(f"--load {self}: {name} is not on PATH", f"install {package} (apt-get install {package})")
        return path


def default_name(binary: str) -> Reference:
    """The name of a loaded image nothing else names: podman's own local convention."""
    from ..oci import parse_reference
    return parse_reference(f"localhost/{binary}:latest")


def _run(argv: list[str], what: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(argv, capture_output=True, cwd=cwd)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise BuildError(f"{what} failed: {err[-1] if err else f'exit status {proc.returncode}'}")
    return proc.stdout.decode(errors="replace")


@dataclass(frozen=True)
class PodmanSink:
    """The image into the caller's containers-storage through podman."""
    work_dir: Path  # the temporary layout goes here (the cache directory's work/)
    default: Reference
    kind: SinkKind = "podman"

    def write(self, artifact: Artifact, references: Sequence[Reference],
              referrers: Sequence[Artifact] = ()) -> SinkResult:
        podman = LoadTarget("podman").program()
        names = [str(r) for r in references] or [str(self.default)]
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="load-", dir=self.work_dir) as tmp:
            # podman pull names what it pulls from a layout after the layout's path as given:
            # relative to cwd, a name of leango's choosing (any path would not even parse), untagged below.
            name = f"leango-load-{secrets.token_hex(8)}"
            layout = Path(tmp) / name
            write_layout(layout, artifact)
            is_index = isinstance(artifact, Index)
            images = [(f"platform-{i}", image) for i, image in enumerate(artifact.images())]
            root = [("index", artifact)] if is_index else []
            (layout / "index.json").write_bytes(index_json(
                [a.descriptor.with_annotations(**{REF_NAME: ref}) for ref, a in [*root, *images]]))
            pulled = []
            for ref, image in images:
                platform = str(image.config.platform)
                pulled.append(_run([podman, "pull", "--quiet", "--platform", platform, f"oci:{name}:{ref}"],
                                   "podman pull", cwd=Path(tmp)).strip().splitlines()[-1])
            if is_index:
                # The list under a name of its own first (a name in use cannot be given to a new
                # list), then the image's names moved onto it, then that name dropped.
                scratch = f"localhost/{name}:list"
                target = _run([podman, "manifest", "create", scratch, f"oci:{name}:index", "--all"],
                              "podman manifest create", cwd=Path(tmp)).strip().splitlines()[-1]
                _run([podman, "tag", target, *names], "podman tag")
                _run([podman, "manifest", "rm", scratch], "podman manifest rm")
            else:
                target = pulled[0]
                _run([podman, "tag", target, *names], "podman tag")
            for image_id in pulled:
                for held in _names(podman, image_id):
                    if held.startswith(f"localhost/{name}:"):
                        _run([podman, "untag", image_id, held], "podman untag")
        return SinkResult(self.kind, "podman", named(artifact, references or [self.default]))


def _names(podman: str, image_id: str) -> list[str]:
    out = _run([podman, "image", "inspect", "--format", "{{json .RepoTags}}", image_id], "podman image inspect")
    return json.loads(out.strip() or "[]") or []


@dataclass(frozen=True)
class ContainerdSink:
    """The image into containerd through `ctr images import`, every platform."""
    namespace: str
    default: Reference
    kind: SinkKind = "containerd"

    def write(self, artifact: Artifact, references: Sequence[Reference],
              referrers: Sequence[Artifact] = ()) -> SinkResult:
        ctr = LoadTarget("containerd", self.namespace).program()
        refs = list(references) or [self.default]
        listed = [artifact.descriptor.with_annotations(**{CONTAINERD_NAME: str(r), REF_NAME: r.tag or "latest"})
                  for r in refs]
        entries = [*blob_entries(artifact), bytes_entry("oci-layout", LAYOUT_FILE),
                   bytes_entry("index.json", index_json(listed))]
        argv = [ctr, "--namespace", self.namespace, "images", "import", "--all-platforms", "-"]
        with subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) as proc:
            assert proc.stdin is not None and proc.stderr is not None
            try:
                write_tar(cast(BinaryIO, proc.stdin), entries)
                proc.stdin.close()
            except BrokenPipeError:
                pass  # ctr stopped reading: its error says why
            err = proc.stderr.read().decode(errors="replace").strip().splitlines()
        if proc.returncode != 0:
            address = os.environ.get("CONTAINERD_ADDRESS", "/run/containerd/containerd.sock")
            said = err[-1] if err else f"exit status {proc.returncode}"
            hint = " (is containerd running there? CONTAINERD_ADDRESS names its socket)" if "dial" in said else ""
            raise BuildError(f"ctr images import (containerd at {address}, namespace {self.namespace}) failed: "
                             f"{said}{hint}")
        return SinkResult(self.kind, f"containerd ({self.namespace})", named(artifact, refs))
