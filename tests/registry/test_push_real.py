"""Push to a real docker-registry (distribution 2.8) and read back with skopeo and buildah."""

from __future__ import annotations

import json

from leango.oci import Index, Platform
from support.artifacts import sbom_of
from support.cli import leango
from support.ocicheck import check_layout
from support.paths import FIXTURES
from support.peers import Buildah, skopeo_inspect
from support.tools import require, run


def test_build_push_pull_run(registry, tmp_path, cache_dir):
    ref = f"{registry.host}/hello:v1"
    proc = leango("build", FIXTURES / "hello-world", "--tag", ref, "--tag", f"{registry.host}/hello:latest",
                  "--push", "--json", "--oci-archive", tmp_path / "h.tar", "--cache-dir", cache_dir)
    result = json.loads(proc.stdout)
    digest = result["digest"]
    assert [p["reference"] for p in result["pushed"]] == [f"{ref}@{digest}", f"{registry.host}/hello:latest@{digest}"]
    first = result["pushed"][0]
    # the image's three blobs, and its SBOM's document and empty config
    assert first["blobsUploaded"] + first["blobsExisting"] == 5
    info = skopeo_inspect(f"docker://{ref}", tls_verify=False)
    assert info["Digest"] == digest
    # The offline output of the same run is the same image.
    assert skopeo_inspect(f"oci-archive:{tmp_path / 'h.tar'}:{ref}")["Digest"] == digest
    # Copy it back out and compare every digest.
    require("skopeo")
    run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{ref}", f"oci:{tmp_path / 'back'}:x"])
    report = check_layout(tmp_path / "back")
    assert [str(d) for d in report.manifests] == [digest]
    ran = Buildah(tmp_path / "b").run_image(f"docker://{ref}", "/hello-world", tls=False)
    assert ran.stdout == "Hello world\n"

    again = json.loads(leango("build", FIXTURES / "hello-world", "--tag", ref, "--push", "--json",
                              "--cache-dir", cache_dir).stdout)
    assert again["digest"] == digest
    assert again["pushed"][0]["blobsUploaded"] == 0 and again["pushed"][0]["bytesUploaded"] == 0
    assert again["pushed"][0]["blobsExisting"] == 5


def test_push_requires_a_tag(tmp_path):
    proc = leango("build", FIXTURES / "hello-world", "--push", "--cache-dir", tmp_path, check=False)
    assert proc.returncode == 2 and "--push needs --tag REF naming where to push, or --repo" in proc.stderr


def test_mount_from_another_repository(registry, make_image, do_push):
    img = make_image("mnt")
    do_push(img, [f"{registry.host}/source/app:v1"])
    [result] = do_push(img, [f"{registry.host}/target/app:v1"], mount_from=["source/app"])
    assert {b.action for b in result.report.blobs} == {"mounted"}
    assert result.report.bytes_uploaded == 0
    assert skopeo_inspect(f"docker://{registry.host}/target/app:v1", tls_verify=False)["Digest"] == str(img.digest)


def test_several_repositories_in_one_run_mount_from_each_other(registry, make_image, do_push):
    img = make_image("multi")
    results = do_push(img, [f"{registry.host}/one/app:a", f"{registry.host}/two/app:b"])
    assert {b.action for b in results[0].report.blobs} == {"uploaded"}
    assert {b.action for b in results[1].report.blobs} == {"mounted"}


def test_index_push(registry, make_image, do_push):
    index = Index((make_image("idx"), make_image("idx", platform=Platform("linux", "arm64"))))
    ref = f"{registry.host}/multi/arch:v1"
    do_push(index, [ref])
    raw = skopeo_inspect(f"docker://{ref}", tls_verify=False, raw=True)
    assert raw["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert [m["digest"] for m in raw["manifests"]] == [str(i.digest) for i in index.manifests]
    for img in index.manifests:
        arm = skopeo_inspect(f"docker://{registry.host}/multi/arch@{img.digest}", tls_verify=False)
        assert arm["Architecture"] == img.config.platform.architecture


def test_empty_blob_and_zstd(registry, make_image, do_push):
    img = make_image("z", compression="zstd")
    [res] = do_push(img, [f"{registry.host}/zstd/app:v1"])
    raw = skopeo_inspect(f"docker://{registry.host}/zstd/app:v1", tls_verify=False, raw=True)
    assert raw["layers"][0]["mediaType"].endswith("+zstd")
    assert res.reference.digest == img.digest


def test_empty_blob_and_empty_json_config(registry):
    """Checklist 9: sha256:e3b0… (size 0) and the empty JSON {} push like any blob."""
    import threading

    from leango.oci import Blob, Descriptor, Digest, mediatypes
    from leango.oci.digest import EMPTY_SHA256
    from leango.oci.registry.credentials import Credential
    from leango.oci.registry.transport import RegistryOptions, Transport
    from leango.oci.registry.upload import BlobUploader
    uploader = BlobUploader(Transport(registry.host, Credential(), RegistryOptions()), "empty/blobs",
                            cancel=threading.Event())
    empty = Blob(Descriptor(mediatypes.OCI_LAYER_TAR, EMPTY_SHA256, 0), data=b"")
    braces = Blob(Descriptor(mediatypes.OCI_EMPTY, Digest.of_bytes(b"{}"), 2), data=b"{}")
    assert [uploader.push(b).action for b in (empty, braces)] == ["uploaded", "uploaded"]
    assert [uploader.push(b).action for b in (empty, braces)] == ["exists", "exists"]


def test_unreachable_registry_is_one_clear_line(tmp_path, cache_dir):
    from support.registry import free_port
    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    proc = leango("build", FIXTURES / "hello-world", "--tag", f"{host}/x:v1", "--push", "-q",
                  "--oci-archive", tmp_path / "kept.tar", "--cache-dir", cache_dir, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"leango: error: cannot connect to {host}: connection refused"
    assert (tmp_path / "kept.tar").is_file(), "the offline output must survive a failed push"


def test_nested_index_with_an_artifact_push(registry, make_image, do_push):
    """An index holding an image, a nested index and an SBOM artifact: every child PUT before its parent."""
    amd, arm = make_image("nest"), make_image("nest", platform=Platform("linux", "arm64"))
    sbom = sbom_of(amd)
    inner = Index((arm,))
    outer = Index((amd, inner, sbom))
    ref = f"{registry.host}/nested/app:v1"
    do_push(outer, [ref])
    raw = skopeo_inspect(f"docker://{ref}", tls_verify=False, raw=True)
    assert [m["digest"] for m in raw["manifests"]] == [str(amd.digest), str(inner.digest), str(sbom.digest)]
    nested = skopeo_inspect(f"docker://{registry.host}/nested/app@{inner.digest}", tls_verify=False, raw=True)
    assert nested["manifests"][0]["digest"] == str(arm.digest)
    got = skopeo_inspect(f"docker://{registry.host}/nested/app@{sbom.digest}", tls_verify=False, raw=True)
    assert got["artifactType"] == "application/spdx+json" and got["subject"]["digest"] == str(amd.digest)


def test_mount_from_through_the_cli(registry, cache_dir, tmp_path):
    """--mount-from on the command line: the second repository's blobs are mounted, not uploaded."""
    first = leango("build", FIXTURES / "hello-world", "--tag", f"{registry.host}/cli-src/hello:v1", "--push",
                   "--json", "--cache-dir", cache_dir)
    assert json.loads(first.stdout)["pushed"][0]["blobsUploaded"] == 5  # the image's three, its SBOM's two
    second = leango("build", FIXTURES / "hello-world", "--tag", f"{registry.host}/cli-dst/hello:v1", "--push",
                    "--mount-from", "cli-src/hello", "--json", "--cache-dir", cache_dir)
    pushed = json.loads(second.stdout)["pushed"][0]
    assert pushed["blobsMounted"] == 5 and pushed["blobsUploaded"] == 0


def test_ca_bundle_through_the_cli_replaces_the_image_trust(tmp_path, cache_dir):
    from support.peers import extract
    from support.tlsca import make_ca
    ca = make_ca(tmp_path / "ca")
    archive = tmp_path / "ca.tar"
    leango("build", FIXTURES / "hello-world", "--ca-bundle", ca.ca_cert, "--oci-archive", archive,
           "--cache-dir", cache_dir)
    root = extract(archive, tmp_path / "x")
    index = json.loads((root / "index.json").read_text())
    manifest = json.loads((root / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_text())
    import gzip
    import io
    import tarfile
    base = gzip.decompress((root / "blobs/sha256" / manifest["layers"][0]["digest"][7:]).read_bytes())
    with tarfile.open(fileobj=io.BytesIO(base)) as tar:
        bundle = tar.extractfile("etc/ssl/certs/ca-certificates.crt").read()
    assert bundle == ca.ca_cert.read_bytes()
