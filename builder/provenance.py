"""SLSA provenance: an in-toto Statement v1 with a SLSA Provenance v1 predicate for one build.

What each field holds is documented in docs/provenance.md (the buildType's definition). The
statement says what shaped the output (the command line's parameters), what it was made from
(the source's commit, the Go toolchain and every module compiled in, each with its digest), who
made it (leango and its version) and what came out (every platform manifest and the index).

Nothing secret or local goes in: URLs lose their userinfo, no host path appears (patterns are
module-relative; the toolchain is named by version and digest), and the only environment values
are the ones the user passed with --env. The same build gives the same bytes: no timestamps
beyond the image's own creation time, no invocation id.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._version import version
from ..oci.blob import Blob
from ..oci.canonical import canonical_json
from ..oci.config import rfc3339
from ..oci.descriptor import Descriptor
from ..oci.digest import Digest
from ..oci.manifest import Manifest
from .buildinfo import Module
from .redact import without_userinfo
from .sbom import Described, h1_hex, main_module, purl, stdlib_purl

log = logging.getLogger(__name__)

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://leango.dev/provenance/go-image/v1"  # defined in docs/provenance.md
BUILDER_ID = "https://leango.dev/builder"
MEDIA_TYPE = "application/vnd.in-toto+json"
FILE_NAME = "provenance.intoto.json"


@dataclass(frozen=True)
class Source:
    """The source's version control state, when it is a git work tree."""
    uri: str  # the remote's URL, userinfo removed; "" when it has no remote
    commit: str
    dirty: bool
    tag: str = ""  # a tag at HEAD (the highest version when several), "" when none


@dataclass(frozen=True)
class Parameters:
    """The command line's parameters that shaped the output (externalParameters)."""
    packages: tuple[str, ...]
    platforms: tuple[str, ...]
    references: tuple[str, ...]
    ldflags: str
    build_tags: tuple[str, ...]
    env: tuple[tuple[str, str], ...]  # --env as the user passed it
    binary_name: str
    user: str
    source_date_epoch: int
    image: dict[str, object]  # labels, annotations, runtime env… (ImageSettings.key())


def clean_url(text: str) -> str:
    """Text without credentials: the userinfo of every URL in it removed (a GOPROXY list holds
    several), by the rule every log line follows (redact.py). Other text is kept as it is;
    scp-like git remotes (git@host:path) carry only a user name."""
    return without_userinfo(text)


def git_source(directory: Path) -> Source | None:
    """The commit, remote and dirtiness of the git work tree holding directory; None when it is
    not one (or git is missing). Reads only: fsmonitor and hooks are off."""
    def git(*args: str) -> str:
        out = subprocess.run(["git", "-c", "core.fsmonitor=false", "-C", str(directory), *args],
                             capture_output=True, text=True, timeout=30,
                             env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"})
        if out.returncode != 0:
            raise OSError(out.stderr.strip() or f"git {args[0]} failed")
        return out.stdout.strip()
    try:
        commit = git("rev-parse", "--verify", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=normal"))
        try:
            remote = git("remote", "get-url", "origin")
        except OSError:
            remote = ""
        tags = git("tag", "--points-at", "HEAD", "--sort=-version:refname").splitlines()
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("no git source: %s", exc)
        return None
    return Source(clean_url(remote), commit, dirty, tags[0] if tags else "")


ANNOTATION_SOURCE = "org.opencontainers.image.source"
ANNOTATION_REVISION = "org.opencontainers.image.revision"
ANNOTATION_VERSION = "org.opencontainers.image.version"
ANNOTATION_CREATED = "org.opencontainers.image.created"
_SCP_LIKE = re.compile(r"(?:[^@/:]+@)?([^/:]+):(?!//)(.+)")


def public_url(remote: str) -> str:
    """The remote as a URL people can open: an http(s) URL as it is, git@host:path and ssh://
    as https://host/path; "" for a local path or file:// (a host path is not published)."""
    remote = clean_url(remote)
    if remote.startswith(("https://", "http://")):
        return remote
    if remote.startswith(("ssh://", "git://", "git+ssh://")):
        rest = remote.split("://", 1)[1]
        host, _, path = rest.partition("/")
        host = host.rpartition("@")[2].split(":")[0]
        return f"https://{host}/{path}" if host and path else ""
    m = _SCP_LIKE.fullmatch(remote)
    if m and "/" not in m.group(1) and not remote.startswith(("/", ".", "file:")):
        return f"https://{m.group(1)}/{m.group(2).lstrip('/')}"
    return ""


def source_annotations(source: Source | None, epoch: int) -> tuple[tuple[str, str], ...]:
    """The image-spec's pre-defined annotations leango fills from the source: where it is
    (source), which commit (revision), its tag at HEAD (version), and when (created, from
    SOURCE_DATE_EPOCH when it is set). Nothing that is not known."""
    out: list[tuple[str, str]] = []
    if source is not None:
        if public_url(source.uri):
            out.append((ANNOTATION_SOURCE, public_url(source.uri)))
        out.append((ANNOTATION_REVISION, source.commit))
        if source.tag:
            out.append((ANNOTATION_VERSION, source.tag))
    if epoch:
        out.append((ANNOTATION_CREATED, rfc3339(epoch)))
    return tuple(out)


def _module_dependency(module: Module) -> dict[str, Any]:
    """What was compiled: the replacement of a replaced module, unless it is a local directory
    (whose path, maybe a host path, is not recorded: the original module names it)."""
    effective = module.effective
    local = module.replace is not None and not effective.version
    compiled = module if local else effective
    entry: dict[str, Any] = {"uri": purl(compiled), "name": compiled.path}
    if h1_hex(effective):
        entry["digest"] = {"dirHash": h1_hex(effective)}
    if local:
        entry["annotations"] = {"replacedBy": "a local directory"}
    elif module.replace is not None:
        entry["annotations"] = {"replaces": f"{module.path}@{module.version}" if module.version else module.path}
    return entry


def statement(subjects: list[tuple[str, Digest]], params: Parameters, source: Source | None,
              toolchain_version: str, toolchain_digest: str, described: list[Described],
              byproducts: Sequence[tuple[str, Descriptor]] = ()) -> bytes:
    """The provenance of one artifact: subjects are (name, digest) of the index and every
    platform manifest; described the platform images as the SBOM read them."""
    deps: list[dict[str, Any]] = []
    if source is not None:
        entry: dict[str, Any] = {"name": "source", "digest": {"gitCommit": source.commit},
                                 "annotations": {"dirty": source.dirty}}
        if source.uri:
            entry["uri"] = f"git+{source.uri}"
        deps.append(entry)
    deps.append({"name": "go-toolchain", "uri": stdlib_purl(toolchain_version),
                 "digest": {"sha256": toolchain_digest}, "annotations": {"version": toolchain_version}})
    seen: dict[str, dict[str, Any]] = {}
    for d in described:
        for module in d.info.deps:
            entry = _module_dependency(module)
            seen.setdefault(entry["uri"], entry)
    deps.extend(seen[k] for k in sorted(seen))
    main = sorted({main_module(d).path for d in described})
    external: dict[str, Any] = {
        "packages": list(params.packages), "mainModules": main, "platforms": list(params.platforms),
        "references": list(params.references), "ldflags": params.ldflags, "buildTags": list(params.build_tags),
        "env": {k: clean_url(v) for k, v in params.env}, "binaryName": params.binary_name, "user": params.user,
        "sourceDateEpoch": params.source_date_epoch, "image": params.image,
    }
    doc = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {digest.algorithm: digest.hex}} for name, digest in subjects],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": external,
                "internalParameters": {"goVersions": sorted({d.info.go_version for d in described})},
                "resolvedDependencies": deps,
            },
            "runDetails": {
                "builder": {"id": BUILDER_ID, "version": {"leango": version()}},
                "byproducts": [{"name": name, "digest": {d.digest.algorithm: d.digest.hex}, "mediaType": d.media_type}
                               for name, d in byproducts],
            },
        },
    }
    return canonical_json(doc)


def attachment(data: bytes, subject: Descriptor, created: str) -> Manifest:
    """The statement as an artifact whose subject is the built artifact (the index, or the one image)."""
    layer = Blob(Descriptor(MEDIA_TYPE, Digest.of_bytes(data), len(data),
                            (("org.opencontainers.image.title", FILE_NAME),)), data=data)
    return Manifest(MEDIA_TYPE, (layer,), subject=Descriptor(subject.media_type, subject.digest, subject.size),
                    annotations=(("org.opencontainers.image.created", created),
                                 ("dev.leango.predicateType", PREDICATE_TYPE)))
