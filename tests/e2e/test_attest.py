"""What a build attaches (issue 18): an SBOM per platform image by default, SLSA provenance with
--provenance, as referrers in the registry and the layout, found by the ORAS CLI, valid by the
in-toto project's own bindings, with no secret and no host path in them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from google.protobuf import json_format
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1 import resource_descriptor_pb2, statement_pb2
from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
from in_toto_attestation.v1.statement import Statement

from support.cli import leango
from support.paths import FIXTURES
from support.tools import require, require_go_tool

SECRET = "s3cr3t-t0ken"


def _oras(*args: str) -> dict:
    out = subprocess.run([require_go_tool("oras"), *args, "--format", "json"], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args], cwd=cwd, check=True,
                   capture_output=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """hello-world in a git work tree whose remote URL holds a token."""
    root = tmp_path_factory.mktemp("project") / "hello"
    subprocess.run(["cp", "-r", str(FIXTURES / "hello-world"), str(root)], check=True)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "init")
    _git(root, "remote", "add", "origin", f"https://ci-bot:{SECRET}@git.example.com/team/hello.git")
    return root


def _referrers(layout: Path, digest: str) -> dict[str, str]:
    """artifactType → digest of what `oras discover` finds attached to digest in the layout."""
    doc = _oras("discover", "--oci-layout", f"{layout}@{digest}")
    return {r["artifactType"]: r["digest"] for r in doc.get("referrers") or []}


def _payload(layout: Path, manifest_digest: str) -> bytes:
    blobs = layout / "blobs" / "sha256"
    manifest = json.loads((blobs / manifest_digest.split(":")[1]).read_bytes())
    return (blobs / manifest["layers"][0]["digest"].split(":")[1]).read_bytes()


def _check_provenance(raw: bytes) -> dict:
    """The in-toto project's bindings: every field name known (no typo passes), the statement
    and each resource descriptor valid."""
    doc = json.loads(raw)
    pb = json_format.Parse(raw, statement_pb2.Statement())
    Statement.copy_from_pb(pb).validate()
    json_format.ParseDict(doc["predicate"], provenance_pb2.Provenance())
    for dep in doc["predicate"]["buildDefinition"].get("resolvedDependencies", []):
        ResourceDescriptor.copy_from_pb(json_format.ParseDict(dep, resource_descriptor_pb2.ResourceDescriptor())).validate()
    return doc


def test_the_checker_refuses_what_is_not_provenance():
    good = {"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "x", "digest": {"sha256": "ab"}}],
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {"buildDefinition": {"buildType": "https://x"}, "runDetails": {"builder": {"id": "https://b"}}}}
    _check_provenance(json.dumps(good).encode())
    typo = json.loads(json.dumps(good))
    typo["predicate"]["runDetails"]["bulider"] = typo["predicate"]["runDetails"].pop("builder")
    with pytest.raises(json_format.ParseError):
        _check_provenance(json.dumps(typo).encode())
    no_digest = json.loads(json.dumps(good))
    no_digest["subject"][0]["digest"] = {}
    with pytest.raises(ValueError, match="digest"):
        _check_provenance(json.dumps(no_digest).encode())


def test_sbom_and_provenance_are_attached_valid_and_clean(project, tmp_path, cache_dir, registry):
    require("buildah")
    layout = tmp_path / "layout"
    ref = f"{registry.host}/team/hello:v1"
    proc = leango("build", project, "--tag", ref, "--push", "--insecure-registry", registry.host,
                  "--oci-layout", layout, "--provenance", "--sbom", "spdx,cyclonedx",
                  "--env", f"MIRROR=https://bot:{SECRET}@mirror.example/go", "--json", "--cache-dir", cache_dir,
                  "-v", "-v", env={**os.environ, "GOPROXY": f"https://bot:{SECRET}@proxy.invalid/,off"}, check=False)
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    digest = json.loads(proc.stdout)["digest"]
    found = _referrers(layout, digest)
    assert set(found) == {"application/spdx+json", "application/vnd.cyclonedx+json", "application/vnd.in-toto+json"}
    # The registry holds the same referrers (distribution 2.8: through the fallback tag).
    remote = _oras("discover", "--plain-http", f"{registry.host}/team/hello@{digest}")
    assert {r["digest"] for r in remote["referrers"]} == set(found.values())

    payload = _payload(layout, found["application/vnd.in-toto+json"])
    statement = _check_provenance(payload)
    # leango provenance reads it back, from the layout and from the registry, byte for byte.
    assert leango("provenance", f"oci:{layout}").stdout.encode() == payload + b"\n"
    assert leango("provenance", ref, "--insecure-registry", registry.host).stdout.encode() == payload + b"\n"
    # oras pulls the document as a named file.
    pulled = tmp_path / "pulled"
    subprocess.run([require_go_tool("oras"), "pull", "--oci-layout", f"{layout}@{found['application/vnd.in-toto+json']}",
                    "-o", str(pulled)], check=True, capture_output=True)
    assert (pulled / "provenance.intoto.json").read_bytes() == payload
    assert statement["subject"] == [{"name": ref, "digest": {"sha256": digest.split(":")[1]}}]
    build = statement["predicate"]["buildDefinition"]
    assert build["buildType"] == "https://leango.dev/provenance/go-image/v1"
    assert build["externalParameters"]["references"] == [ref]
    assert build["externalParameters"]["env"] == {"MIRROR": "https://mirror.example/go"}  # as passed, minus userinfo
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout.strip()
    source = build["resolvedDependencies"][0]
    assert source == {"name": "source", "uri": "git+https://git.example.com/team/hello.git",
                      "digest": {"gitCommit": head}, "annotations": {"dirty": False}}
    toolchain = build["resolvedDependencies"][1]
    assert toolchain["name"] == "go-toolchain" and len(toolchain["digest"]["sha256"]) == 64
    byproducts = statement["predicate"]["runDetails"]["byproducts"]
    assert {b["mediaType"] for b in byproducts} == {"application/spdx+json", "application/vnd.cyclonedx+json"}
    assert statement["predicate"]["runDetails"]["builder"]["id"] == "https://leango.dev/builder"
    # No secret and no host path anywhere in what was written.
    for path in layout.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SECRET.encode() not in data and str(tmp_path).encode() not in data
            assert str(project).encode() not in data, path


def test_the_same_build_attaches_the_same_bytes_and_a_dirty_tree_says_so(project, tmp_path, cache_dir):
    require("buildah")
    outs = []
    for n in range(2):
        layout = tmp_path / f"l{n}"
        proc = leango("build", project, "--oci-layout", layout, "--provenance", "--json", "--cache-dir", cache_dir)
        outs.append((layout, json.loads(proc.stdout)["digest"]))
    first, second = (_referrers(layout, digest) for layout, digest in outs)
    assert first == second and set(first) == {"application/spdx+json", "application/vnd.in-toto+json"}
    (project / "notes.txt").write_text("uncommitted")
    try:
        layout = tmp_path / "dirty"
        digest = json.loads(leango("build", project, "--oci-layout", layout, "--provenance", "--json",
                                   "--cache-dir", cache_dir).stdout)["digest"]
        statement = json.loads(_payload(layout, _referrers(layout, digest)["application/vnd.in-toto+json"]))
        assert statement["predicate"]["buildDefinition"]["resolvedDependencies"][0]["annotations"] == {"dirty": True}
    finally:
        (project / "notes.txt").unlink()


def test_local_outputs_get_them_only_when_asked_and_none_means_none(project, tmp_path, cache_dir, registry):
    require("buildah")
    # By default a layout and an archive stay one image each (skopeo, podman load)…
    proc = leango("build", project, "--oci-layout", tmp_path / "default", "--oci-archive", tmp_path / "a.tar",
                  "--json", "--cache-dir", cache_dir)
    digest = json.loads(proc.stdout)["digest"]
    assert _referrers(tmp_path / "default", digest) == {}
    assert _archive_types(tmp_path / "a.tar") == [""]
    none = leango("provenance", f"oci:{tmp_path / 'default'}", check=False)
    assert none.returncode == 1 and "no SLSA provenance is attached (build with --provenance)" in none.stderr
    # …while a push beside them carries the default SBOM.
    ref = f"{registry.host}/team/default:v1"
    leango("build", project, "--tag", ref, "--push", "--insecure-registry", registry.host, "--cache-dir", cache_dir)
    remote = _oras("discover", "--plain-http", f"{registry.host}/team/default@{digest}")
    assert [r["artifactType"] for r in remote["referrers"]] == ["application/spdx+json"]
    # Asked for, they are written into both.
    leango("build", project, "--oci-layout", tmp_path / "asked", "--oci-archive", tmp_path / "b.tar",
           "--sbom", "spdx", "--cache-dir", cache_dir)
    assert set(_referrers(tmp_path / "asked", digest)) == {"application/spdx+json"}
    assert _archive_types(tmp_path / "b.tar") == ["", "application/spdx+json"]
    # none: nothing, even in the registry.
    leango("build", project, "--tag", f"{registry.host}/team/none:v1", "--push", "--insecure-registry",
           registry.host, "--sbom", "none", "--oci-layout", tmp_path / "none", "--cache-dir", cache_dir)
    assert _referrers(tmp_path / "none", digest) == {}
    assert not (_oras("discover", "--plain-http", f"{registry.host}/team/none@{digest}").get("referrers") or [])


def _archive_types(path: Path) -> list[str]:
    """The artifactType of each index.json entry of an oci-archive ("" for the image)."""
    with tarfile.open(path) as tar:
        index = json.load(tar.extractfile("index.json"))
    return [m.get("artifactType", "") for m in index["manifests"]]


def test_bad_sbom_formats_are_refused():
    proc = leango("build", FIXTURES / "hello-world", "--sbom", "spdx,xml", check=False)
    assert proc.returncode == 2 and "--sbom 'spdx,xml'" in proc.stderr


def _annotations(layout: Path, name: str) -> tuple[dict, dict]:
    """The annotations of the image named name in layout: its index.json entry's manifest's, and
    its config's created."""
    index = json.loads((layout / "index.json").read_text())
    (entry,) = [m for m in index["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == name]
    blobs = layout / "blobs" / "sha256"
    manifest = json.loads((blobs / entry["digest"].split(":")[1]).read_bytes())
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_bytes())
    return manifest.get("annotations", {}), config


def test_the_image_names_its_source_revision_version_and_time(project, tmp_path, cache_dir):
    """image-spec annotations from the git work tree (the remote without its token) and
    SOURCE_DATE_EPOCH; a tag at HEAD is the version; --annotation wins; --no-source-annotations and
    a tree outside git have none of them; the SBOM and provenance leave the digest as it is."""
    require("buildah")
    project = shutil.copytree(project, tmp_path / "hello", symlinks=True)  # its own history to change
    _git(project, "tag", "v1.4.0")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout.strip()
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    built = {}
    for name, extra in (("plain", ()), ("attested", ("--provenance", "--sbom", "spdx")),
                        ("custom", ("--annotation", "org.opencontainers.image.version=2.0-custom")),
                        ("off", ("--no-source-annotations",))):
        proc = leango("build", project, "--tag", f"example.com/hello:{name}", "--oci-layout", tmp_path / "layout",
                      "--json", "--cache-dir", cache_dir, *extra, env=env)
        built[name] = json.loads(proc.stdout)["digest"]
    annotations, config = _annotations(tmp_path / "layout", "example.com/hello:plain")
    assert annotations == {"org.opencontainers.image.source": "https://git.example.com/team/hello.git",
                           "org.opencontainers.image.revision": head,
                           "org.opencontainers.image.version": "v1.4.0",
                           "org.opencontainers.image.created": "2023-11-14T22:13:20Z"}
    assert config["created"] == "2023-11-14T22:13:20Z"
    assert SECRET not in json.dumps(annotations)
    assert built["attested"] == built["plain"]  # attached beside the image, never in it
    custom, _ = _annotations(tmp_path / "layout", "example.com/hello:custom")
    assert custom == {**annotations, "org.opencontainers.image.version": "2.0-custom"}
    off, _ = _annotations(tmp_path / "layout", "example.com/hello:off")
    assert off == {} and built["off"] != built["plain"]
    # The same files outside git: nothing from git, and the same image as --no-source-annotations
    # without SOURCE_DATE_EPOCH's created.
    bare = tmp_path / "bare"
    shutil.copytree(project, bare, ignore=shutil.ignore_patterns(".git"))
    proc = leango("build", bare, "--tag", "example.com/hello:bare", "--oci-layout", tmp_path / "layout", "--json",
                  "--cache-dir", cache_dir, env=env)
    outside, _ = _annotations(tmp_path / "layout", "example.com/hello:bare")
    assert outside == {"org.opencontainers.image.created": "2023-11-14T22:13:20Z"}
    # A new commit is a new revision: the build is not reused from the record of the last one.
    _git(project, "commit", "-qm", "two", "--allow-empty")
    proc = leango("build", project, "--tag", "example.com/hello:next", "--oci-layout", tmp_path / "layout",
                  "--json", "--cache-dir", cache_dir, env=env)
    following, _ = _annotations(tmp_path / "layout", "example.com/hello:next")
    assert following["org.opencontainers.image.revision"] != head and "org.opencontainers.image.version" not in following
    assert json.loads(proc.stdout)["digest"] != built["plain"]
