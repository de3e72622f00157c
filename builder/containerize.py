"""Binary → layers → config → Image; several platforms → Index.

The base layer depends only on the base options (CA bundle, users), so every
image leango makes with the same options shares it byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..oci import Digest, Image, ImageConfig, Index, Platform
from ..oci.config import History
from ..oci.layer import Layer, build_layer
from ..oci.tarfs import DIR, FILE, SYMLINK, TarEntry, bytes_entry
from .errors import SpecError
from .spec import ImageSettings, check_data_link

CA_PATH = "/etc/ssl/certs/ca-certificates.crt"
NONROOT_UID = 65532
DEFAULT_USER = f"{NONROOT_UID}:{NONROOT_UID}"
PATH_ENV = "PATH=/usr/local/bin:/usr/bin:/bin:/"

DATA_PATH = "/var/run/leango/data"  # ko's kodata convention, at leango's own path
ZONEINFO_PATH = "/usr/share/go/zoneinfo.zip"  # the Go toolchain's, found by Go programs through ZONEINFO
_USERS = {"root": 0, "nonroot": NONROOT_UID}
NO_SETTINGS = ImageSettings()

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


def image_config(binary: AppBinary, diff_ids: Iterable[Digest], *, user: str, created: int,
                 settings: ImageSettings = NO_SETTINGS) -> ImageConfig:
    history = [History("leango: base layer (CA bundle, /etc/passwd, /etc/group, /tmp)"),
               History(f"leango: app layer (/{binary.name})")]
    env = [PATH_ENV, f"SSL_CERT_FILE={CA_PATH}"]
    if settings.extra_layer:
        what = ([DATA_PATH] if settings.data_dir is not None else []) + ([ZONEINFO_PATH] if settings.zoneinfo else [])
        history.append(History(f"leango: data layer ({', '.join(what)})"))
        env += [f"LEANGO_DATA_PATH={DATA_PATH}"] if settings.data_dir is not None else []
        env += [f"ZONEINFO={ZONEINFO_PATH}"] if settings.zoneinfo else []
    env += [f"{k}={v}" for k, v in settings.runtime_env]
    return ImageConfig(
        platform=binary.platform,
        diff_ids=tuple(diff_ids),
        history=tuple(history),
        entrypoint=(f"/{binary.name}",),
        cmd=settings.args,
        env=tuple(env),
        user=user,
        working_dir=settings.workdir or "/",
        labels=settings.labels,
        exposed_ports=settings.expose,
        stop_signal=settings.stop_signal,
        created=created,
    )


def numeric_owner(user: str) -> tuple[int, int]:
    """UID:GID of --user, names resolved as the base layer's /etc/passwd defines them."""
    name, _, group = user.partition(":")
    group = group or name

    def number(part: str) -> int:
        if part.isdigit():
            return int(part)
        if part in _USERS:
            return _USERS[part]
        raise SpecError(f"--user {user}: {part!r} is not in the image's /etc/passwd (root, nonroot); "
                        "give a number to own the data files")
    return number(name), number(group)


def data_entries(settings: ImageSettings, owner: tuple[int, int], goroot: Path | None) -> list[TarEntry]:
    """The data directory under DATA_PATH (owned by the image's user, modes normalised, links that
    stay inside kept) and the zoneinfo file."""
    entries: list[TarEntry] = []
    uid, gid = owner
    if settings.data_dir is not None:
        root = settings.data_dir
        top = DATA_PATH.lstrip("/")
        entries.append(TarEntry(top, DIR, 0o755, uid=uid, gid=gid))
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            name = f"{top}/{rel}"
            if path.is_symlink():
                target = check_data_link(root, path)  # checked again: the directory may have changed
                entries.append(TarEntry(name, SYMLINK, 0o755, linkname=target, uid=uid, gid=gid))
            elif path.is_dir():
                entries.append(TarEntry(name, DIR, 0o755, uid=uid, gid=gid))
            elif path.is_file():
                mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
                entries.append(TarEntry(name, FILE, mode, path.stat().st_size, _opener(path), uid=uid, gid=gid))
            else:
                raise SpecError(f"--data {root}: {rel} is neither a file, a directory nor a link")
    if settings.zoneinfo:
        if goroot is None or not (goroot / "lib" / "time" / "zoneinfo.zip").is_file():
            raise SpecError("--zoneinfo: the Go toolchain has no lib/time/zoneinfo.zip")
        zone = goroot / "lib" / "time" / "zoneinfo.zip"
        entries.append(TarEntry(ZONEINFO_PATH.lstrip("/"), FILE, 0o644, zone.stat().st_size, _opener(zone)))
    return entries


def _opener(path: Path) -> Callable[[], BinaryIO]:
    return lambda: open(path, "rb")


def build_base_layer(base: BaseOptions, workdir: Path) -> Layer:
    return build_layer(base_entries(base), workdir, compression=base.compression, mtime=base.mtime)


def containerize(binaries: list[AppBinary], base: BaseOptions, workdir: Path, *,
                 user: str = DEFAULT_USER, base_layer: Layer | None = None,
                 settings: ImageSettings = NO_SETTINGS, goroot: Path | None = None) -> Image | Index:
    """One Image per binary/platform; an Index when there is more than one platform.
    Images made with the same base options share the base layer (pass it to build it once);
    the data layer (settings' data directory and zoneinfo) is the same for every platform."""
    base_layer = base_layer or build_base_layer(base, workdir)
    data_layer = None
    if settings.extra_layer:
        data_layer = build_layer(data_entries(settings, numeric_owner(user), goroot), workdir,
                                 compression=base.compression, mtime=base.mtime)
    images = []
    for binary in binaries:
        app = build_layer(app_entries(binary), workdir, compression=base.compression,
                          mtime=base.mtime)
        layers = (base_layer, app, *([data_layer] if data_layer else []))
        cfg = image_config(binary, [l.diff_id for l in layers], user=user, created=base.mtime, settings=settings)
        images.append(Image(cfg, layers, settings.annotations))
    if len(images) == 1:
        return images[0]
    return Index(tuple(images), settings.index_annotations)
