"""`leango registry check REF`: what a registry can do, each finding made by a probe.

Clients hard-code what they learned about registries; this asks. Probes, in one repository:
the scheme and TLS of /v2/, its auth challenge (scheme, realm, service), which of pull, push and
delete are granted, a blob upload (monolithic PUT, else chunked PATCHes honouring
OCI-Chunk-Min-Length), a cross-repository mount, manifests (a zstd layer; a manifest of 4 MiB,
the distribution spec's minimum limit), the referrers API, and tag-list pagination (?n= with a
Link header). Everything it writes is content it names (the blob says "leango registry check")
and is deleted afterwards where the registry allows; where it does not, the report lists what is
left (manifests under scratch tags named leango-check-*).

What a check learned is kept per registry (capabilities_path) for a day; pushes use it (a
registry that refuses monolithic uploads gets chunks of its minimum size).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from .. import mediatypes
from ..digest import Digest
from ..errors import RegistryError
from .auth import parse_challenges
from .client import Registry, Repository
from .httputil import read_capped
from .learned import capabilities_path
from .pull import MAX_MANIFEST
from .upload import explained_refusal, with_digest

log = logging.getLogger(__name__)

PROBE_BLOB = b"leango registry check: a blob to probe uploads with; delete me\n"
EMPTY_CONFIG = b"{}"
SPEC_MANIFEST_LIMIT = 4 * 1024 * 1024  # what the distribution spec says a registry should accept
SCRATCH = "leango-check"


LABELS = {"tls_verified": "TLS verified", "referrers_api": "referrers API", "manifest_4mib": "4 MiB manifest"}


@dataclass
class Finding:
    key: str
    value: Any  # JSON: what a program reads (True/False/None, a number, a string)
    said: str  # what a person reads


@dataclass
class Report:
    registry: str
    repository: str
    findings: list[Finding] = field(default_factory=list)
    left_behind: list[str] = field(default_factory=list)

    def add(self, key: str, value: Any, said: str) -> None:
        self.findings.append(Finding(key, value, said))

    def get(self, key: str) -> Any:
        return next((f.value for f in self.findings if f.key == key), None)

    def to_json(self) -> dict[str, Any]:
        return {"registry": self.registry, "repository": self.repository,
                "checks": {f.key: {"value": f.value, "said": f.said} for f in self.findings},
                "leftBehind": self.left_behind}

    def lines(self) -> list[str]:
        labels = [(LABELS.get(f.key, f.key.replace("_", " ")), f.said) for f in self.findings]
        width = max(len(label) for label, _ in [*labels, ("left behind", "")])
        out = [f"{'registry':<{width}}  {self.registry} (repository {self.repository})"]
        out += [f"{label:<{width}}  {said}" for label, said in labels]
        out.append(f"{'left behind':<{width}}  " + (", ".join(self.left_behind) or "nothing"))
        return out


def check(client: Registry, registry: str, repository: str) -> Report:
    """Probe registry (in repository) and report; raises RegistryError when /v2/ cannot be reached."""
    return _Probe(client.repository(registry, repository)).run()


class _Probe:
    def __init__(self, repo: Repository):
        self.repo, self.t, self.name = repo, repo.t, repo.name
        self.pull = (f"repository:{self.name}:pull",)
        self.push = (f"repository:{self.name}:pull,push",)
        self.delete_scope = (f"repository:{self.name}:delete",)
        self.report = Report(repo.registry, repo.name)
        self.blobs: list[Digest] = []  # written by the probe: deleted at the end
        self.manifests: list[Digest] = []
        self.tags: list[str] = []
        self.monolithic: bool | None = None
        self.min_chunk = 0

    def run(self) -> Report:
        self.t.ping()
        self._scheme()
        self._auth()
        if self._granted_pull() and self._granted_push():
            try:
                self._uploads()
                self._mount()
                self._manifests()
                self._referrers()
                self._paging()
            finally:
                self._clean()
        else:
            for key in ("upload", "mount", "zstd_layers", "manifest_4mib", "referrers_api", "tag_paging"):
                self.report.add(key, None, "not probed: pushing is not granted")
        return self.report

    # -- what /v2/ says ---------------------------------------------------------------------
    def _scheme(self) -> None:
        scheme = urlsplit(self.t.base).scheme
        if scheme == "http":
            said = "http (no TLS: loopback or --insecure-registry)"
        elif self.t.insecure:
            said = "https, certificate not verified (--insecure-registry)"
        else:
            said = "https, certificate verified"
        self.report.add("scheme", scheme, said)
        self.report.add("tls_verified", scheme == "https" and not self.t.insecure,
                        "yes" if scheme == "https" and not self.t.insecure else "no")

    def _auth(self) -> None:
        resp = self.t._send("GET", f"{self.t.base}/v2/", {}, None)
        resp.close()
        if resp.status_code != 401:
            self.report.add("auth", "none", f"none (GET /v2/ answers {resp.status_code} without credentials)")
            return
        header = resp.headers.get("WWW-Authenticate", "")
        found = parse_challenges(header)
        if not found:
            self.report.add("auth", "unknown", "401 without a WWW-Authenticate challenge")
            return
        c = found[0]
        if c.scheme.lower() == "bearer":
            realm, service = c.get("realm"), c.get("service")
            said = f"bearer token from {realm}" + (f" (service {service})" if service else "")
            self.report.add("auth", "bearer", said)
            self.report.add("token_realm", realm, realm)
        else:
            self.report.add("auth", c.scheme.lower(), f"{c.scheme.lower()} (realm {c.get('realm')!r})")

    # -- scopes -------------------------------------------------------------------------------
    def _status(self, method: str, path: str, scopes: tuple[str, ...], expect: tuple[int, ...], **kw: Any) -> Any:
        """The response (closed) of one request without retries, or the RegistryError it raised."""
        url = path if path.startswith("http") else self.t.url(path, **kw.pop("query", {}))
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = self.t.request(method, url, scopes=scopes, expect=expect, retry=False, **kw)
            except RegistryError as exc:
                # a rate limit (Docker Hub's 429) says nothing of what is probed: waited out as the
                # retry policy waits (Retry-After, bounded); any other answer is the finding
                if exc.status != 429 or not self.t.retry.wait(attempt, exc, f"{method} {path}"):
                    return exc
                continue
            resp.close()
            return resp

    def _granted_pull(self) -> bool:
        got = self._status("GET", f"/v2/{self.name}/tags/list", self.pull, (200, 404))
        ok = not isinstance(got, RegistryError)
        said = "granted" if ok else f"not granted ({got})"
        if ok and got.status_code == 404:
            said = "granted (the repository has no tags yet)"
        self.report.add("pull", ok, said)
        return ok

    def _granted_push(self) -> bool:
        got = self._status("POST", f"/v2/{self.name}/blobs/uploads/", self.push, (202,))
        if isinstance(got, RegistryError):
            self.report.add("push", False, f"not granted ({explained_refusal(self.t.host, self.name, got)})")
            return False
        self._cancel(got)
        self.report.add("push", True, "granted")
        return True

    # -- blobs ---------------------------------------------------------------------------------
    def _start(self) -> tuple[str, int]:
        resp = self.t.request("POST", self.t.url(f"/v2/{self.name}/blobs/uploads/"), scopes=self.push,
                              expect=(202,), retry=False)
        resp.close()
        minimum = resp.headers.get("OCI-Chunk-Min-Length", "")
        location = requests_join(self.t.url(f"/v2/{self.name}/blobs/uploads/"), resp.headers.get("Location", ""))
        return location, int(minimum) if minimum.isascii() and minimum.isdigit() else 0

    def _cancel(self, resp: Any) -> None:
        location = resp.headers.get("Location")
        if location:
            self._status("DELETE", requests_join(self.t.url(f"/v2/{self.name}/blobs/uploads/"), location), self.push,
                         (200, 202, 204, 404))

    def _upload(self, data: bytes) -> None:
        """data as a blob, the way the registry was found to take it."""
        digest = Digest.of_bytes(data)
        location, _ = self._start()
        if self.monolithic is not False:
            got = self._status("PUT", with_digest(location, str(digest)), self.push, (201,),
                               headers={"Content-Type": "application/octet-stream"}, body=data)
            if not isinstance(got, RegistryError):
                self.blobs.append(digest)
                return
            if self.monolithic:
                raise got
            location, _ = self._start()
        got = self._status("PATCH", location, self.push, (202,), body=data,
                           headers={"Content-Type": "application/octet-stream",
                                    "Content-Range": f"0-{len(data) - 1}"})
        if isinstance(got, RegistryError):
            raise got
        location = requests_join(location, got.headers.get("Location", "")) or location
        put = self._status("PUT", with_digest(location, str(digest)), self.push, (201,), body=b"",
                           headers={"Content-Length": "0"})
        if isinstance(put, RegistryError):
            raise put
        self.blobs.append(digest)

    def _uploads(self) -> None:
        digest = Digest.of_bytes(PROBE_BLOB)
        location, self.min_chunk = self._start()
        got = self._status("PUT", with_digest(location, str(digest)), self.push, (201,),
                           headers={"Content-Type": "application/octet-stream"}, body=PROBE_BLOB)
        self.monolithic = not isinstance(got, RegistryError)
        if self.monolithic:
            self.blobs.append(digest)
            chunked = None
        else:
            self._status("DELETE", location, self.push, (200, 202, 204, 404))
            try:
                self._upload(PROBE_BLOB)
                chunked = True
            except RegistryError:
                chunked = False
        said = ("monolithic PUT" if self.monolithic else f"monolithic PUT refused ({got}); chunked PATCH "
                + ("works" if chunked else "refused too"))
        if self.min_chunk:
            said += f"; chunks of at least {self.min_chunk} bytes (OCI-Chunk-Min-Length)"
        self.report.add("upload", {"monolithic": self.monolithic, "chunked": chunked, "minChunk": self.min_chunk},
                        said)
        self._upload(EMPTY_CONFIG)

    def _mount(self) -> None:
        digest = Digest.of_bytes(PROBE_BLOB)
        got = self._status("POST", f"/v2/{self.name}/blobs/uploads/", self.push, (201, 202),
                           query={"mount": str(digest), "from": self.name})
        if isinstance(got, RegistryError):
            self.report.add("mount", False, f"refused ({got})")
        elif got.status_code == 201:
            self.report.add("mount", True, "yes (POST ?mount=&from= answers 201)")
        else:
            self._cancel(got)
            self.report.add("mount", False, "no (POST ?mount= starts an upload instead: 202)")

    # -- manifests ------------------------------------------------------------------------------
    def _manifest(self, layer_type: str, pad: int = 0) -> bytes:
        doc: dict[str, Any] = {
            "schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST,
            "config": {"mediaType": mediatypes.OCI_EMPTY, "digest": str(Digest.of_bytes(EMPTY_CONFIG)), "size": 2},
            "layers": [{"mediaType": layer_type, "digest": str(Digest.of_bytes(PROBE_BLOB)), "size": len(PROBE_BLOB)}],
            "annotations": {"org.opencontainers.image.description": "leango registry check: delete me"}}
        raw = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
        if pad:
            doc["annotations"]["padding"] = "x" * (pad - len(raw) - len(',"padding":""'))
            raw = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
        return raw

    def _put(self, raw: bytes, reference: str = "") -> Any:
        digest = Digest.of_bytes(raw)
        got = self._status("PUT", f"/v2/{self.name}/manifests/{reference or digest}", self.push, (201,),
                           headers={"Content-Type": mediatypes.OCI_MANIFEST}, body=raw)
        if not isinstance(got, RegistryError) and digest not in self.manifests:
            self.manifests.append(digest)
        return got

    def _manifests(self) -> None:
        zstd = self._put(self._manifest(mediatypes.OCI_LAYER_ZSTD))
        if isinstance(zstd, RegistryError) and zstd.status == 415:
            # Quay without OCI support: no OCI image manifest at all, whatever its layers
            gzip = self._put(self._manifest(mediatypes.OCI_LAYER_GZIP))
            if isinstance(gzip, RegistryError) and gzip.status == 415:
                said = f"not probed: the registry takes no OCI image manifest ({gzip})"
                self.report.add("zstd_layers", None, said)
                self.report.add("manifest_4mib", None, said)
                return
        ok = not isinstance(zstd, RegistryError)
        self.report.add("zstd_layers", ok, "accepted" if ok else f"refused ({zstd})")
        big = self._put(self._manifest(mediatypes.OCI_LAYER_GZIP, pad=SPEC_MANIFEST_LIMIT))
        if isinstance(big, RegistryError):
            self.report.add("manifest_4mib", False, f"a manifest of 4 MiB (the spec's minimum) refused ({big})")
        else:
            self.report.add("manifest_4mib", True, "a manifest of 4 MiB (the spec's minimum) accepted")

    def _referrers(self) -> None:
        if not self.manifests:
            self.report.add("referrers_api", None, "not probed: no manifest could be pushed")
            return
        api = self.repo.referrers_api(self.manifests[0])
        self.report.add("referrers_api", api, "yes" if api else "no (leango uses the sha256-<hex> fallback tag)")

    def _paging(self) -> None:
        raw = self._manifest(mediatypes.OCI_LAYER_GZIP)
        for n in (1, 2):
            got = self._put(raw, f"{SCRATCH}-{n}")
            if isinstance(got, RegistryError):
                self.report.add("tag_paging", None, f"not probed: a scratch tag could not be pushed ({got})")
                return
            self.tags.append(f"{SCRATCH}-{n}")
        url = self.t.url(f"/v2/{self.name}/tags/list", n="1")
        try:
            resp = self.t.request("GET", url, scopes=self.pull, expect=(200,))
        except RegistryError as exc:
            self.report.add("tag_paging", None, f"not probed: the tag list could not be read ({exc})")
            return
        try:
            body = read_capped(resp, MAX_MANIFEST, self.t.options.read_timeout)
            listed = json.loads(body or b"{}").get("tags") or []
            link = "next" in resp.links
        finally:
            resp.close()
        if link:
            self.report.add("tag_paging", True, "yes (?n= pages with a Link header)")
        elif len(listed) > 1:
            self.report.add("tag_paging", False, "no (?n=1 answered with every tag)")
        else:
            self.report.add("tag_paging", False, "?n= honoured, but no Link header to the next page")

    # -- leaving nothing behind ----------------------------------------------------------------
    def _clean(self) -> None:
        deleted: bool | None = None
        refused: RegistryError | None = None
        for digest in self.manifests:
            got = self._status("DELETE", f"/v2/{self.name}/manifests/{digest}", (*self.push, *self.delete_scope),
                               (200, 202, 204, 404))
            if isinstance(got, RegistryError):
                refused, deleted = got, False
            elif deleted is None:
                deleted = True
        if deleted is False and refused is not None:
            said = ("disabled by the registry" if refused.status in (405, 501) or refused.has_code("UNSUPPORTED")
                    else "not granted" if refused.status in (401, 403) else f"refused ({refused})")
            self.report.add("delete", False, said)
            self.report.left_behind += [f"manifest {d}" for d in self.manifests]
            self.report.left_behind += [f"tag {t}" for t in self.tags]
        elif deleted:
            self.report.add("delete", True, "granted (the probe's manifests deleted)")
        blobs_left = []
        for digest in dict.fromkeys(self.blobs):
            got = self._status("DELETE", f"/v2/{self.name}/blobs/{digest}", (*self.push, *self.delete_scope),
                               (200, 202, 204, 404))
            if isinstance(got, RegistryError):
                blobs_left.append(f"blob {digest}")
        self.report.left_behind += blobs_left


def requests_join(base: str, location: str) -> str:
    return requests.compat.urljoin(base, location) if location else ""


def save(cache_dir: Path, report: Report, now: Callable[[], float] = time.time) -> Path:
    from ..atomic import write_bytes_atomic
    path = capabilities_path(cache_dir, report.registry)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, json.dumps({"checked": now(), **report.to_json()}, sort_keys=True).encode())
    return path
