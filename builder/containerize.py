"""Binary → layers → config → Image; several platforms → Index.

The base layer depends only on the base options (CA bundle, users), so every
image leango makes with the same options shares it byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..oci import Digest, Image, ImageConfig, Index, Platform
from ..oci.config import History
from ..oci.layer import Layer, build_layer
from ..oci.tarfs import DIR, FILE, TarEntry, bytes_entry

CA_PATH = "/etc/ssl/certs/ca-certificates.crt"
NONROOT_UID = 65532
DEFAULT_USER = f"{NONROOT_UID}:{NONROOT_UID}"
PATH_ENV = "PATH=/usr/local/bin:/usr/bin:/bin:/"

PASSWD = (b"root:x:0:0:root:/root:/sbin/nologin\n"
          b"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")
GROUP = b"root:x:0:\nnonroot:x:65532:\n"


@dataclass(frozen=True)
class BaseOptions:
    ca_bundle: bytes
    compression: str = "gzip"
    mtime: int = 0


@dataclass(frozen=True)
class AppBinary:
    name: str
    path: Path
    platform: Platform


def base_entries(opts: BaseOptions) -> list[TarEntry]:
    return [
        bytes_entry(CA_PATH.lstrip("/"), opts.ca_bundle),
        bytes_entry("etc/passwd", PASSWD),
        bytes_entry("etc/group", GROUP),
        TarEntry("home/nonroot", DIR, 0o755, uid=NONROOT_UID, gid=NONROOT_UID),
        TarEntry("tmp", DIR, 0o1777),
    ]


def app_entries(binary: AppBinary) -> list[TarEntry]:
    size = binary.path.stat().st_size

    def opener() -> BinaryIO:
        return open(binary.path, "rb")
    return [TarEntry(binary.name, FILE, 0o555, size, opener)]


def image_config(binary: AppBinary, diff_ids: Iterable[Digest], *, user: str, created: int) -> ImageConfig:
    return ImageConfig(
        platform=binary.platform,
        diff_ids=tuple(diff_ids),
        history=(
            History("leango: base layer (CA bundle, /etc/passwd, /etc/group, /tmp)"),
            History(f"leango: app layer (/{binary.name})"),
        ),
        entrypoint=(f"/{binary.name}",),
        env=(PATH_ENV, f"SSL_CERT_FILE={CA_PATH}"),
        user=user,
        working_dir="/",
        created=created,
    )


def build_base_layer(base: BaseOptions, workdir: Path) -> Layer:
    return build_layer(base_entries(base), workdir, compression=base.compression, mtime=base.mtime)


def containerize(binaries: list[AppBinary], base: BaseOptions, workdir: Path, *,
                 user: str = DEFAULT_USER, base_layer: Layer | None = None) -> Image | Index:
    """One Image per binary/platform; an Index when there is more than one platform.
    Images made with the same base options share the base layer (pass it to build it once)."""
    base_layer = base_layer or build_base_layer(base, workdir)
    images = []
    for binary in binaries:
        app = build_layer(app_entries(binary), workdir, compression=base.compression,
                          mtime=base.mtime)
        cfg = image_config(binary, (base_layer.diff_id, app.diff_id), user=user, created=base.mtime)
        images.append(Image(cfg, (base_layer, app)))
    return images[0] if len(images) == 1 else Index(tuple(images))
