"""What is attached to an image (its referrers) travels with it: through the air gap in an
oci-archive, into and out of every real registry (with the OCI 1.1 referrers API and without
it, where the sha256-<hex> fallback tag serves), and the ORAS CLI sees it at each end."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from support.cli import leango
from support.tools import require_go_tool


def _oras(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([require_go_tool("oras"), *args], capture_output=True, text=True, check=True)


def _discovered(*target: str) -> set[str]:
    """Digests `oras discover` lists under target, at every depth."""
    doc = json.loads(_oras("discover", "--format", "json", *target).stdout)
    found, queue = set(), list(doc.get("referrers") or [])
    while queue:
        entry = queue.pop()
        found.add(entry["digest"])
        queue.extend(entry.get("referrers") or [])
    return found


def _copy(src, dst, *extra):
    return json.loads(leango("copy", src, dst, "--json", *extra).stdout)


def _attach(target: list[str], tmp_path, name: str, artifact_type: str) -> str:
    """oras attach a small file to target; the attached manifest's digest."""
    payload = tmp_path / name
    payload.write_text(json.dumps({"about": name}))
    out = _oras("attach", *target, "--artifact-type", artifact_type, "--format", "json",
                "--disable-path-validation", str(payload)).stdout
    return json.loads(out)["digest"]


def test_air_gap_carries_an_attached_sbom_to_every_registry(hello, tmp_path, any_registry):
    digest = hello.result["digest"]
    layout = tmp_path / "layout"
    _copy(f"oci:{hello.layout}", f"oci:{layout}:v1")
    sbom = _attach(["--oci-layout", f"{layout}@{digest}"], tmp_path, "sbom.spdx.json", "application/spdx+json")
    carried = _copy(f"oci:{layout}:v1", f"oci-archive:{tmp_path / 'app.tar'}:v1")
    assert carried["referrers"] == [sbom]

    # Only the file crosses the gap.
    far = tmp_path / "far"
    far.mkdir()
    shutil.move(tmp_path / "app.tar", far / "app.tar")
    shutil.rmtree(layout)
    target = f"{any_registry.host}/airgap/app:v1"
    copied = _copy(f"oci-archive:{far / 'app.tar'}:v1", target)
    assert copied["digest"] == digest and copied["referrers"] == [sbom]
    assert _discovered("--plain-http", target) == {sbom}
    shown = json.loads(leango("inspect", target, "--json").stdout)["referrers"]
    assert shown == [{"digest": sbom, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "artifactType": "application/spdx+json", "subject": digest}]

    # Without the API the list lives under the fallback tag; with it, no tag is written.
    tags = _oras("repo", "tags", "--plain-http", f"{any_registry.host}/airgap/app").stdout.split()
    fallback = digest.replace(":", "-")
    assert (fallback in tags) is (not any_registry.referrers_api), tags

    # And back out of the registry, into a layout where `oras discover` finds it again.
    back = tmp_path / "back"
    assert _copy(target, f"oci:{back}:v1")["referrers"] == [sbom]
    assert _discovered("--oci-layout", f"{back}:v1") == {sbom}


def test_no_referrers_leaves_them_behind(hello, tmp_path, registry):
    digest = hello.result["digest"]
    layout = tmp_path / "layout"
    _copy(f"oci:{hello.layout}", f"oci:{layout}:v1")
    sbom = _attach(["--oci-layout", f"{layout}@{digest}"], tmp_path, "sbom.json", "application/spdx+json")
    target = f"{registry.host}/noref/app:v1"
    assert _copy(f"oci:{layout}:v1", target, "--no-referrers")["referrers"] == []
    assert _discovered("--plain-http", target) == set()
    # The same copy without the flag carries it (the check above can fail).
    assert _copy(f"oci:{layout}:v1", target)["referrers"] == [sbom]
    assert _discovered("--plain-http", target) == {sbom}


def test_referrers_of_referrers_and_of_each_platform_are_copied(hello, tmp_path, any_registry):
    """oras attaches in the registry (by its own probe: API or fallback tag); leango reads them
    back from there, a signature of the SBOM included, and writes them to an archive."""
    source = f"{any_registry.host}/deep/app:v1"
    digest = _copy(f"oci:{hello.layout}", source)["digest"]
    sbom = _attach(["--plain-http", source], tmp_path, "sbom.json", "application/spdx+json")
    sig = _attach(["--plain-http", f"{any_registry.host}/deep/app@{sbom}"], tmp_path, "sig.json",
                  "application/vnd.example.signature")
    archive = tmp_path / "deep.tar"
    copied = _copy(source, f"oci-archive:{archive}:v1")
    assert copied["digest"] == digest and copied["referrers"] == [sbom, sig]
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "-xf", str(archive), "-C", str(unpacked)], check=True)
    assert _discovered("--oci-layout", f"{unpacked}:v1") == {sbom, sig}


@pytest.mark.parametrize("registry_kind", ["referrers_registry", "ggcr_registry"])
def test_an_index_keeps_its_platform_images_referrers(tmp_path, request, registry_kind, index_layout):
    """A signature on one platform's image (as cosign signs each) is found under the index too."""
    reg = request.getfixturevalue(registry_kind)
    layout, _ = index_layout
    index = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    children = json.loads((layout / "blobs" / "sha256" / index.split(":")[1]).read_text())["manifests"]
    amd64 = next(c["digest"] for c in children if c["platform"]["architecture"] == "amd64")
    mine = tmp_path / "layout"
    _copy(f"oci:{layout}", f"oci:{mine}:v1")
    sig = _attach(["--oci-layout", f"{mine}@{amd64}"], tmp_path, "sig.json", "application/vnd.example.signature")
    target = f"{reg.host}/multi/app:v1"
    assert _copy(f"oci:{mine}:v1", target)["referrers"] == [sig]
    assert _discovered("--plain-http", f"{reg.host}/multi/app@{amd64}") == {sig}
    # --platform picking arm64 alone leaves amd64's signature behind.
    only_arm = _copy(f"oci:{mine}:v1", f"oci:{tmp_path / 'arm'}:v1", "--platform", "linux/arm64")
    assert only_arm["referrers"] == []
