"""Platform strings ("linux/arm64/v8") ⇄ GOOS/GOARCH/GOARM/GOAMD64 and ELF machine.

Only linux targets: a FROM-scratch image runs the binary directly on a Linux kernel.
Normalisation follows containerd's platforms package: arm64 has variant v8,
arm defaults to v7, amd64 variants v1..v4 select GOAMD64.
"""

from __future__ import annotations

import platform as _host

from ..oci import OciError, Platform
from .errors import SpecError

# OCI architecture → (GOARCH, ELF e_machine, allowed variants, default variant)
_ARCHES = {
    "amd64": ("amd64", 62, ("", "v1", "v2", "v3", "v4"), ""),
    "arm64": ("arm64", 183, ("", "v8"), ""),
    "arm": ("arm", 40, ("v5", "v6", "v7"), "v7"),
    "386": ("386", 3, ("",), ""),
    "ppc64le": ("ppc64le", 21, ("",), ""),
    "s390x": ("s390x", 22, ("",), ""),
    "riscv64": ("riscv64", 243, ("",), ""),
    "mips64le": ("mips64le", 8, ("",), ""),
    "loong64": ("loong64", 258, ("",), ""),
}
_HOST_MACHINES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
                  "armv7l": "arm", "i686": "386", "i386": "386", "ppc64le": "ppc64le",
                  "s390x": "s390x", "riscv64": "riscv64", "loongarch64": "loong64"}


def supported() -> list[str]:
    return [f"linux/{a}" for a in _ARCHES]


def parse_platform(text: str) -> Platform:
    """Parse and normalise OS/ARCH[/VARIANT] (Platform.parse, the one parser); raise SpecError
    unless leango can build for it, listing what it can."""
    try:
        parsed = Platform.parse(text)
    except OciError as exc:
        raise SpecError(f"malformed platform {text!r}", "expected OS/ARCH[/VARIANT], e.g. linux/arm64") from exc
    if parsed.os != "linux" or parsed.architecture not in _ARCHES:
        raise SpecError(f"unsupported platform {text!r}", f"supported: {', '.join(supported())}")
    _, _, variants, default = _ARCHES[parsed.architecture]
    variant = parsed.variant or default
    if variant not in variants:
        raise SpecError(f"unsupported variant {variant!r} for linux/{parsed.architecture}",
                        f"choose from {', '.join(v for v in variants if v) or 'none'}")
    return Platform("linux", parsed.architecture, variant)


def host_platform() -> Platform:
    machine = _host.machine().lower()
    arch = _HOST_MACHINES.get(machine)
    if arch is None:
        raise SpecError(f"unknown host machine {machine!r}", "pass --platform explicitly")
    return parse_platform(f"linux/{arch}")


def go_env(target: Platform) -> dict[str, str]:
    goarch = _ARCHES[target.architecture][0]
    env = {"GOOS": target.os, "GOARCH": goarch}
    if target.architecture == "arm":
        env["GOARM"] = target.variant.lstrip("v")
    elif target.architecture == "amd64":
        env["GOAMD64"] = target.variant or "v1"
    return env


def elf_machine(target: Platform) -> int:
    return _ARCHES[target.architecture][1]
