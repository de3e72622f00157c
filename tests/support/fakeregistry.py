"""A small in-process registry speaking the distribution API, for protocol edge
cases a real registry cannot be made to show: Location forms, _state, chunk
minimums, 416 answers, bearer-token scopes and expiry, warnings, mounts, and the
hosted registries' documented quirks (docs/registries.md names each one's source)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from .httpserve import serve

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


@dataclass
class Behaviour:
    location: str = "path"  # "path", "relative", "absolute" or "elsewhere" (another host)
    chunk_min: int = 0  # OCI-Chunk-Min-Length to advertise
    fail_patch_416: int = 0  # answer 416 to this many PATCHes (after the first)
    stuck_range: bool = False  # the GET status of an upload never advances (ECR-like)
    auth: str = "none"  # "none", "basic" or "bearer"
    users: dict = field(default_factory=lambda: {"user": "pass"})
    token_uses: int = 0  # a token stops working after this many uses (0: never)
    refresh_post_404: bool = False
    warning: str = ""
    mount: bool = True
    wrong_manifest_digest: bool = False
    pull_only_tokens: int = 0  # the first N tokens grant pull only (forces insufficient_scope)
    realm: str = ""  # override the token realm URL
    blob_redirect: bool = False  # GET blob answers 307 to blob_store (storage on another host)
    # A PUT ?digest= carrying the blob (no PATCH before it) answers 404 (or monolithic_refusal), as
    # some registries behind object storage do: only POST + PATCH chunks + an empty PUT upload a blob
    monolithic: bool = True
    monolithic_refusal: int = 404
    # Hosted registries' documented quirks (each named in docs/registries.md with its source):
    # ECR: repositories exist only when created (writes elsewhere: 404 NAME_UNKNOWN), and a
    # manifest without a top-level mediaType is refused
    repositories: tuple[str, ...] | None = None
    require_media_type: bool = False
    manifest_limit: int = 0  # a PUT manifest larger than this: 413 (0: no limit)
    rate_limited: int = 0  # Docker Hub: the first N requests get 429 with Retry-After: 1
    bare_401: bool = False  # GCR/GAR: a 401 on /blobs and /manifests carries no WWW-Authenticate
    # GHCR: a PATCH answers Range: 0-0 whatever the upload holds (a client that resumes from it
    # sends the blob again from byte 1)
    patch_range_zero: bool = False
    # Docker Hub: the token endpoint grants what was asked; an account that may not push learns
    # it at the first upload (403 DENIED)
    deny_push: bool = False
    # Quay: a mount without from is refused; manifests of other media types get 415; tokens
    # never grant delete
    mount_needs_from: bool = False
    # GCR/GAR checks a mount's blob exists in from (and Docker Hub that the account may read
    # from): answered with this status instead of a new upload session (0: the spec's 202)
    mount_refused: int = 0
    manifest_types: tuple[str, ...] = ()  # the manifest media types accepted (empty: any)
    no_delete_scope: bool = False
    # Harbor: an unknown manifest is 404 with this code (Harbor 2.10: UNKNOWN, older: NOT_FOUND)
    unknown_code: str = "MANIFEST_UNKNOWN"
    # ECR: tag lists in pages of this many, each with a Link to the next (0: one page); ?n= and
    # ?last= honoured
    tag_page: int = 0
    # Artifactory/Nexus: entries in the tag list that are not tags (null, a number, "")
    malformed_tags: bool = False
    # ECR: a manifest whose subject is an index is refused (405)
    refuse_index_subject: bool = False
    # zot: an untagged manifest no index lists is deleted once older than this many seconds
    gc_untagged: float = 0.0
    # A registry with the referrers API answers the PUT of a manifest with a subject with
    # OCI-Subject (distribution spec, "Pushing Manifests with Subject")
    subject_header: bool = False


@dataclass
class Call:
    method: str
    path: str
    query: dict
    headers: dict
    length: int


class FakeRegistry:
    def __init__(self, behaviour: Behaviour | None = None, hostname: str = "127.0.0.1",
                 blob_store: FakeRegistry | None = None, tls=None):
        self.b = behaviour or Behaviour()
        self.calls: list[Call] = []
        self.token_requests: list[Call] = []
        self.blobs: dict[str, dict[str, bytes]] = {}  # repo -> digest -> bytes
        self.manifests: dict[tuple[str, str], tuple[str, bytes]] = {}
        self.pushed_at: dict[tuple[str, str], float] = {}  # (repo, digest) → when (for gc_untagged)
        self.uploads: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}
        self.blob_store = blob_store  # where "elsewhere" Locations point
        self.lock = threading.Lock()
        self.server = serve(self._dispatch, tls=tls)
        self.host = f"{hostname}:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def find(self, method: str, path_re: str = "") -> list[Call]:
        return [c for c in self.calls if c.method == method and re.search(path_re, c.path)]

    # -- plumbing -------------------------------------------------------------
    def _dispatch(self, h) -> None:
        parts = urlsplit(h.path)
        query = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        call = Call(h.command, parts.path, query, dict(h.headers), length)
        if parts.path == "/token":
            self.token_requests.append(call)
            return self._token(h, call, body)
        self.calls.append(call)
        if self.b.warning:
            self._extra = [("Warning", f'299 - "{self.b.warning}"')]
        else:
            self._extra = []
        if parts.path == "/v2/":
            return self._auth_or(h, call, "", lambda: self._send(h, 200, b"{}"))
        if self.b.gc_untagged:
            self._collect()
        tags = re.fullmatch(r"/v2/(.+)/tags/list", parts.path)
        if tags and call.method == "GET":
            return self._auth_or(h, call, tags.group(1), lambda: self._tags(h, call, tags.group(1)))
        m = re.fullmatch(r"/v2/(.+)/(blobs|manifests)/(.+)", parts.path)
        if not m:
            return self._send(h, 404, b"")
        repo, kind, rest = m.groups()
        if self.b.rate_limited > 0:
            self.b.rate_limited -= 1
            return self._error(h, 429, "TOOMANYREQUESTS", "rate limit exceeded", headers=[("Retry-After", "1")])
        writes = call.method in ("POST", "PUT", "PATCH") or (kind == "blobs" and "uploads/" in rest)
        if self.b.repositories is not None and repo not in self.b.repositories and writes:
            return self._error(h, 404, "NAME_UNKNOWN",
                               f"The repository with name '{repo}' does not exist in the registry")
        handler = self._blob if kind == "blobs" else self._manifest
        return self._auth_or(h, call, repo, lambda: handler(h, call, repo, rest, body))

    def _send(self, h, status, body=b"", headers=()):
        h.send_response(status)
        for key, value in [*headers, *self._extra]:
            h.send_header(key, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def _error(self, h, status, code, message="", headers=()):
        body = json.dumps({"errors": [{"code": code, "message": message or code.lower()}]}).encode()
        self._send(h, status, body, headers)

    # -- auth -----------------------------------------------------------------
    def _auth_or(self, h, call, repo, then):
        if self.b.auth == "none":
            return then()
        given = call.headers.get("Authorization", "")
        if self.b.auth == "basic":
            ok = any(given == "Basic " + base64.b64encode(f"{u}:{p}".encode()).decode()
                     for u, p in self.b.users.items())
            return then() if ok else self._error(h, 401, "UNAUTHORIZED", headers=[
                ("WWW-Authenticate", 'Basic realm="fake"')])
        need = f"repository:{repo}:pull,push" if repo else ""
        token = given[7:] if given.startswith("Bearer ") else ""
        with self.lock:
            info = self.tokens.get(token)
            if info is not None:
                info["uses"] += 1
        realm = f'Bearer realm="{self.b.realm or f"http://{self.host}/token"}",service="fake"'
        if (info is None or (self.b.token_uses and info["uses"] > self.b.token_uses)) and self.b.bare_401 and repo:
            return self._error(h, 401, "UNAUTHORIZED")
        if info is None or (self.b.token_uses and info["uses"] > self.b.token_uses):
            return self._error(h, 401, "UNAUTHORIZED", headers=[("WWW-Authenticate", realm + (
                f',scope="{need}"' if need else "") + (',error="invalid_token"' if info else ""))])
        if need and not _covers(info["scopes"], repo, call.method):
            if self.b.bare_401:
                return self._error(h, 401, "UNAUTHORIZED")
            return self._error(h, 401, "UNAUTHORIZED", headers=[(
                "WWW-Authenticate", realm + f',scope="{need}",error="insufficient_scope"')])
        return then()

    def _token(self, h, call, body):
        self._extra = []
        if call.method == "POST":
            if self.b.refresh_post_404:
                return self._send(h, 404, b"")
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            scopes = form.get("scope", "").split()
        else:
            given = call.headers.get("Authorization", "")
            if given and not any(given == "Basic " + base64.b64encode(f"{u}:{p}".encode()).decode()
                                 for u, p in self.b.users.items()):
                return self._error(h, 401, "UNAUTHORIZED")
            scopes = call.query.get("scope", [])
            scopes = [scopes] if isinstance(scopes, str) else scopes
        token = secrets.token_hex(16)
        with self.lock:
            if self.b.pull_only_tokens > 0:
                self.b.pull_only_tokens -= 1
                scopes = [re.sub(r":[a-z,]+$", ":pull", sc) for sc in scopes]
            if self.b.no_delete_scope:
                scopes = [re.sub(r"(?<=[:,])delete(,|$)", "", sc).rstrip(",:") for sc in scopes]
            self.tokens[token] = {"scopes": scopes, "uses": 0, "anonymous": "Authorization" not in call.headers}
        self._send(h, 200, json.dumps({"access_token": token, "expires_in": 300}).encode())

    # -- blobs ------------------------------------------------------------------
    def _location(self, repo, uid, state) -> str:
        path = f"/v2/{repo}/blobs/uploads/{uid}?_state={state}"
        if self.b.location == "relative":
            return f"{uid}?_state={state}"
        if self.b.location == "absolute":
            return f"http://{self.host}{path}"
        if self.b.location == "metadata":
            return f"http://169.254.169.254{path}"
        if self.b.location == "elsewhere":
            self.blob_store.uploads[uid] = self.uploads[uid]
            return f"http://{self.blob_store.host}{path}"
        return path

    def _new_state(self, uid) -> str:
        state = secrets.token_urlsafe(12)
        self.uploads[uid]["state"] = state
        return state

    def _blob(self, h, call, repo, rest, body):
        store = self.blobs.setdefault(repo, {})
        if rest.startswith("sha256:"):
            if call.method == "HEAD":
                data = store.get(rest)
                if data is None:
                    return self._send(h, 404)
                h.send_response(200)
                h.send_header("Content-Length", str(len(data)))
                h.send_header("Docker-Content-Digest", rest)
                h.end_headers()
                return
            if call.method == "GET":
                if self.b.blob_redirect:
                    return self._send(h, 307, headers=[
                        ("Location", f"http://{self.blob_store.host}/v2/{repo}/blobs/{rest}")])
                data = store.get(rest)
                return self._error(h, 404, "BLOB_UNKNOWN") if data is None else self._send(h, 200, data)
            if call.method == "DELETE":
                return self._send(h, 202) if store.pop(rest, None) is not None else self._error(h, 404, "BLOB_UNKNOWN")
            return self._send(h, 405)
        if rest == "uploads/" and call.method == "POST" and self.b.deny_push:
            return self._error(h, 403, "DENIED", "requested access to the resource is denied")
        if rest == "uploads/" and call.method == "POST" and self.b.mount_needs_from and \
                "mount" in call.query and "from" not in call.query:
            return self._error(h, 400, "BLOB_UPLOAD_INVALID", "mount requires a from repository")
        if rest == "uploads/" and call.method == "POST":
            source = self.blobs.get(call.query.get("from", ""), {})
            digest = call.query.get("mount")
            if digest and self.b.mount and digest in source:
                store[digest] = source[digest]
                return self._send(h, 201, headers=[("Location", f"/v2/{repo}/blobs/{digest}")])
            if digest and self.b.mount_refused:
                return self._error(h, self.b.mount_refused, "BLOB_UNKNOWN" if self.b.mount_refused == 404 else "DENIED")
            uid = secrets.token_hex(8)
            self.uploads[uid] = {"repo": repo, "data": b"", "state": "", "patches": 0}
            headers = [("Location", self._location(repo, uid, self._new_state(uid))), ("Range", "0-0")]
            if self.b.chunk_min:
                headers.append(("OCI-Chunk-Min-Length", str(self.b.chunk_min)))
            return self._send(h, 202, headers=headers)
        uid = rest.split("/")[-1]
        up = self.uploads.get(uid)
        if up is None:
            return self._error(h, 404, "BLOB_UPLOAD_UNKNOWN")
        if call.method == "DELETE":
            self.uploads.pop(uid, None)
            return self._send(h, 204)
        if call.query.get("_state") != up["state"]:
            return self._error(h, 400, "BLOB_UPLOAD_INVALID", "stale or missing _state")
        if call.method == "GET":
            end = len(up["data"]) - 1 if not self.b.stuck_range else up.get("stuck_at", 0) - 1
            return self._send(h, 204, headers=[("Range", f"0-{max(end, 0)}"),
                                               ("Location", self._location(up["repo"], uid, self._new_state(uid)))])
        if call.method == "PATCH":
            return self._patch(h, call, up, uid, body)
        if call.method == "PUT":
            if not self.b.monolithic and body and not up["patches"]:
                return self._error(h, self.b.monolithic_refusal, "BLOB_UPLOAD_INVALID",
                                   "monolithic uploads are not supported")
            return self._put(h, call, up, uid, body)
        return self._send(h, 405)

    def _patch(self, h, call, up, uid, body):
        up["patches"] += 1
        start, _, end = call.headers.get("Content-Range", "").partition("-")
        if up["patches"] > 1 and self.b.fail_patch_416 > 0:
            # Take half the chunk, then say 416: the client must ask where we are.
            self.b.fail_patch_416 -= 1
            up["stuck_at"] = len(up["data"])
            if not self.b.stuck_range:
                up["data"] += body[: len(body) // 2]
            return self._send(h, 416)
        if not start.isdigit() or int(start) != len(up["data"]) or int(end) - int(start) + 1 != len(body):
            return self._send(h, 416)
        if self.b.chunk_min and len(body) < self.b.chunk_min and up.get("final_seen"):
            return self._error(h, 400, "SIZE_INVALID", "chunk below minimum")
        if self.b.chunk_min and len(body) < self.b.chunk_min:
            up["final_seen"] = True  # only the last chunk may be short
        up["data"] += body
        held = 0 if self.b.patch_range_zero else len(up["data"]) - 1
        return self._send(h, 202, headers=[("Location", self._location(up["repo"], uid, self._new_state(uid))),
                                           ("Range", f"0-{held}")])

    def _put(self, h, call, up, uid, body):
        up["data"] += body
        digest = call.query.get("digest", "")
        actual = "sha256:" + hashlib.sha256(up["data"]).hexdigest()
        if digest != actual:
            return self._error(h, 400, "DIGEST_INVALID", f"got {actual}")
        target = self.blobs.setdefault(up["repo"], {})
        target[digest] = up["data"]
        self.uploads.pop(uid, None)
        return self._send(h, 201, headers=[("Docker-Content-Digest", digest)])

    # -- manifests ------------------------------------------------------------
    def _manifest(self, h, call, repo, ref, body):
        if call.method == "DELETE":
            entry = self.manifests.get((repo, ref))
            if entry is None:
                return self._unknown_manifest(h, repo, ref)
            for key in [k for k, v in self.manifests.items() if k[0] == repo and v[1] == entry[1]]:
                del self.manifests[key]
            return self._send(h, 202)
        if call.method != "PUT":
            entry = self.manifests.get((repo, ref))
            if entry is None:
                return self._unknown_manifest(h, repo, ref)
            return self._send(h, 200, entry[1], headers=[("Content-Type", entry[0])])
        if self.b.manifest_limit and len(body) > self.b.manifest_limit:
            return self._error(h, 413, "SIZE_INVALID", "manifest too large")
        media_type = call.headers.get("Content-Type", "")
        if self.b.manifest_types and media_type not in self.b.manifest_types:
            return self._error(h, 415, "MANIFEST_INVALID", f"manifest type {media_type} is not supported")
        doc = json.loads(body or b"{}")
        if self.b.require_media_type and "mediaType" not in doc:
            return self._error(h, 400, "MANIFEST_INVALID", "mediaType is required")
        if self.b.refuse_index_subject and isinstance(doc.get("subject"), dict) and \
                doc["subject"].get("mediaType") in (OCI_INDEX, DOCKER_LIST):
            return self._error(h, 405, "UNSUPPORTED", "a subject that is an image index is not supported")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        self.manifests[(repo, ref)] = (media_type, body)
        self.manifests[(repo, digest)] = (media_type, body)
        self.pushed_at.setdefault((repo, digest), time.monotonic())
        shown = "sha256:" + "0" * 64 if self.b.wrong_manifest_digest else digest
        headers = [("Docker-Content-Digest", shown)]
        if self.b.subject_header and isinstance(doc.get("subject"), dict):
            headers.append(("OCI-Subject", str(doc["subject"].get("digest"))))
        return self._send(h, 201, headers=headers)


    def _unknown_manifest(self, h, repo, ref):
        if self.b.unknown_code == "MANIFEST_UNKNOWN":
            return self._error(h, 404, "MANIFEST_UNKNOWN")
        return self._error(h, 404, self.b.unknown_code, f"artifact {repo}:{ref} not found")  # Harbor's words

    # -- tags and garbage collection --------------------------------------------
    def _tags(self, h, call, repo):
        names = sorted({ref for (r, ref) in self.manifests if r == repo and not ref.startswith("sha256:")})
        if not names:
            return self._error(h, 404, "NAME_UNKNOWN", f"repository {repo} not known")
        last = call.query.get("last", "")
        names = [n for n in names if n > last]
        size = min(x for x in (int(call.query.get("n") or 0), self.b.tag_page) if x > 0) \
            if call.query.get("n") or self.b.tag_page else len(names)
        page, more = names[:size], len(names) > size
        listed: list = list(page)
        if self.b.malformed_tags:
            listed[1:1] = [None, 12, ""]
        headers = [("Content-Type", "application/json")]
        if more:
            headers.append(("Link", f'</v2/{repo}/tags/list?n={size}&last={page[-1]}>; rel="next"'))
        self._send(h, 200, json.dumps({"name": repo, "tags": listed}).encode(), headers)

    def _collect(self) -> None:
        """zot's GC: an untagged manifest that no index lists goes once older than the delay."""
        now = time.monotonic()
        with self.lock:
            tagged = {v[1] for (_, ref), v in self.manifests.items() if not ref.startswith("sha256:")}
            listed = set()
            for _, body in self.manifests.values():
                doc = json.loads(body or b"{}")
                listed.update(m.get("digest") for m in doc.get("manifests") or () if isinstance(m, dict))
            for (repo, ref), (_, body) in list(self.manifests.items()):
                if ref.startswith("sha256:") and body not in tagged and ref not in listed and \
                        now - self.pushed_at.get((repo, ref), now) > self.b.gc_untagged:
                    del self.manifests[(repo, ref)]


def _covers(scopes: list[str], repo: str, method: str) -> bool:
    need = {"delete"} if method == "DELETE" else {"push", "pull"} if method in ("POST", "PUT", "PATCH") \
        else {"pull"}
    for scope in scopes:
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        if kind == "repository" and name == repo and need <= set(actions.split(",")):
            return True
    return False
