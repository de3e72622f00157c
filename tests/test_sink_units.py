"""Sinks without a build: the registry sink's grouping, untagged pushes and referrers against the
in-process fake; the docker-archive's warning; the lazy names of leango.oci.sinks."""

from __future__ import annotations

import logging

import pytest

from leango.oci import Reference, sinks
from leango.oci.blob import Blob
from leango.oci.descriptor import Descriptor
from leango.oci.digest import Digest
from leango.oci.errors import RegistryError
from leango.oci.manifest import Manifest
from leango.oci.registry.transport import RegistryOptions
from leango.oci.sinks.docker_archive import DockerArchiveSink
from leango.oci.sinks.registry import RegistrySink, push
from support.clock import instant_retry
from support.fakeregistry import Behaviour, FakeRegistry


@pytest.fixture
def fake():
    f = FakeRegistry(Behaviour())
    yield f
    f.close()


def _artifact(text: str, subject: Descriptor | None = None) -> Manifest:
    data = text.encode()
    return Manifest("application/vnd.test.a", (Blob(Descriptor("application/vnd.test", Digest.of_bytes(data),
                                                              len(data)), data=data),), subject=subject)


def _sink(**kw) -> RegistrySink:
    return RegistrySink(options=RegistryOptions(retry=instant_retry(2)), **kw)


def test_every_tag_of_every_repository_and_the_referrers(fake):
    art = _artifact("image")
    sbom = _artifact("sbom", subject=art.descriptor)
    refs = [Reference(fake.host, "team/app", "v1"), Reference(fake.host, "team/app", "latest"),
            Reference(fake.host, "team/mirror", "v1")]
    result = _sink().write(art, refs, [sbom])
    assert result.kind == "registry" and result.location == fake.host
    assert [str(r) for r in result.references] == [f"{r}@{art.digest}" for r in refs]
    assert {(k, v[1]) for k, v in fake.manifests.items() if k[1] in ("v1", "latest")} == {
        (("team/app", "v1"), art.raw), (("team/app", "latest"), art.raw), (("team/mirror", "v1"), art.raw)}
    for repo in ("team/app", "team/mirror"):
        assert (repo, str(sbom.digest)) in fake.manifests  # the referrer, by digest, in each repository
    # The second repository mounted what the first uploaded.
    mirror = next(p for p in result.pushed if p.reference.repository == "team/mirror")
    assert mirror.report.count("mounted") >= 1 and mirror.report.count("uploaded") == 0


def test_by_digest_pushes_each_repository_once_untagged(fake):
    art = _artifact("untagged")
    refs = [Reference(fake.host, "team/app", "v1"), Reference(fake.host, "team/app", "v2")]
    result = _sink(by_digest=True).write(art, refs)
    assert [str(r) for r in result.references] == [f"{fake.host}/team/app@{art.digest}"]
    assert set(fake.manifests) == {("team/app", str(art.digest))}


def test_what_cannot_be_pushed_is_said(fake):
    with pytest.raises(RegistryError, match="^pushing needs at least one reference naming where to push$"):
        _sink().write(_artifact("x"), [])
    digest = Digest.of_bytes(b"x")
    with pytest.raises(RegistryError) as info:
        push(_artifact("x"), [Reference(fake.host, "team/app", "", digest)], options=RegistryOptions())
    assert str(info.value) == f"cannot push to {fake.host}/team/app@{digest}: a digest reference names content, not a tag"


def test_a_docker_archive_says_it_leaves_referrers_behind(tmp_path, caplog, make_image):
    image = make_image()
    sbom = _artifact("sbom", subject=image.descriptor)
    with caplog.at_level(logging.WARNING):
        DockerArchiveSink(tmp_path / "a.tar").write(image, [], [sbom, sbom])
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [f"{tmp_path / 'a.tar'}: a docker-archive cannot hold the 2 artifacts attached "
                               "to the image; write an oci-archive to carry them"]


def test_the_sinks_package_names_each_sink_lazily():
    assert sinks.RegistrySink is RegistrySink and sinks.DockerArchiveSink is DockerArchiveSink
    with pytest.raises(AttributeError, match="^module 'leango.oci.sinks' has no attribute 'Nope'$"):
        sinks.Nope  # noqa: B018


def test_the_registry_sink_passes_on_its_credentials_options_mounts_and_progress(tmp_path, make_image):
    import base64
    import json as _json

    from leango.oci.registry.credentials import CredentialSources
    f = FakeRegistry(Behaviour(auth="basic"))
    g = FakeRegistry(Behaviour())
    try:
        auth = tmp_path / "auth.json"
        token = base64.b64encode(b"user:pass").decode()
        auth.write_text(_json.dumps({"auths": {f.host: {"auth": token}}}))
        image = make_image()
        base = RegistrySink(CredentialSources((auth,)), RegistryOptions(retry=instant_retry(2)))
        base.write(image, [Reference(f.host, "team/base", "v1")])
        seen = []
        sink = RegistrySink(CredentialSources((auth,)), RegistryOptions(retry=instant_retry(2), chunk_size=1 << 16),
                            mount_from=("team/base",), progress=lambda *a: seen.append(a))
        result = sink.write(image, [Reference(f.host, "team/app", "v1")])
        assert result.pushed[0].report.count("mounted") == len(list(image.blobs()))
        other = make_image(name="other")
        result = sink.write(other, [Reference(f.host, "team/app", "v2"), Reference(g.host, "team/app", "v2")])
        assert result.location == f"{f.host}, {g.host}"
        assert f.find("PATCH") and seen  # chunked, as the options say; progress reported
    finally:
        f.close()
        g.close()


def test_an_oci_archive_holds_the_names_and_the_referrers(tmp_path):
    import tarfile

    from leango.oci.sinks.archive import OciArchiveSink
    art = _artifact("image")
    sbom = _artifact("sbom", subject=art.descriptor)
    result = OciArchiveSink(tmp_path / "a.tar").write(art, [Reference("r.example", "team/app", "v1")], [sbom])
    assert result.location == str(tmp_path / "a.tar") and result.kind == "oci_archive"
    with tarfile.open(tmp_path / "a.tar") as tar:
        index = __import__("json").load(tar.extractfile("index.json"))
    assert [(m["digest"], m.get("annotations", {}).get("org.opencontainers.image.ref.name")) for m in
            index["manifests"]] == [(str(art.digest), "r.example/team/app:v1"), (str(sbom.digest), None)]


def test_a_docker_archive_holds_its_names_at_its_time(tmp_path, make_image):
    import json as _json
    import tarfile
    image = make_image()
    ref = Reference("r.example", "team/app", "v1")
    result = DockerArchiveSink(tmp_path / "d.tar", mtime=1_700_000_000).write(image, [ref])
    assert result.kind == "tarball" and result.location == str(tmp_path / "d.tar")
    assert [str(r) for r in result.references] == [f"{ref}@{image.digest}"]
    with tarfile.open(tmp_path / "d.tar") as tar:
        assert {m.mtime for m in tar.getmembers()} == {1_700_000_000}
        manifest = _json.load(tar.extractfile("manifest.json"))
    assert manifest[0]["RepoTags"] == ["r.example/team/app:v1"]


TAG = "sha256-" + "b" * 64 + ".sig"


def test_a_tagged_attachment_is_pushed_under_its_tag_merged_with_what_is_there(fake):
    import json as json_

    from leango.oci.referrers import Tagged
    art, first, second, both = _artifact("image"), _artifact("sig one"), _artifact("sig two"), _artifact("both")
    seen = []

    def merge(existing, blob_of):
        layer = Descriptor.from_json(json_.loads(existing)["layers"][0])
        with blob_of(layer).open() as f:
            seen.append((existing, f.read()))
        return both
    ref = [Reference(fake.host, "team/app", "v1")]
    _sink().write(art, ref, [Tagged(TAG, first, merge)])  # nothing under the tag: pushed as is
    assert seen == [] and fake.manifests[("team/app", TAG)][1] == first.raw
    _sink().write(art, ref, [Tagged(TAG, second, merge)])
    assert seen == [(first.raw, b"sig one")]  # what the tag held, its blobs read from the registry
    assert fake.manifests[("team/app", TAG)][1] == both.raw
    _sink().write(art, ref, [Tagged(TAG, second)])  # no merge: replaced
    assert fake.manifests[("team/app", TAG)][1] == second.raw and len(seen) == 1



def test_archives_hold_every_blob_readable_by_all_at_time_zero_unless_told(tmp_path, make_image):
    import tarfile

    from leango.oci.errors import ArchiveError
    from leango.oci.sinks.archive import write_oci_archive
    from leango.oci.sinks.docker_archive import write_docker_archive
    image = make_image()
    sbom = _artifact("sbom", subject=image.descriptor)
    write_oci_archive(tmp_path / "o.tar", image, ["v1"], referrers=[sbom])
    write_oci_archive(tmp_path / "later.tar", image, ["v1"], mtime=1_700_000_000)
    write_docker_archive(tmp_path / "d.tar", image, ["r.example/app:v1"])
    for name in ("o.tar", "d.tar"):
        with tarfile.open(tmp_path / name) as tar:
            members = tar.getmembers()
        assert {m.mtime for m in members} == {0} and {m.mode for m in members if m.isfile()} == {0o644}
        blobs = {m.name.rsplit("/", 1)[1] for m in members if m.isfile() and m.name.startswith("blobs/")}
        wanted = {b.digest.hex for b in (*image.blobs(), image.root, *(sbom.blobs() if name == "o.tar" else ()),
                                         *((sbom.root,) if name == "o.tar" else ()))}
        assert blobs == wanted  # the referrer's blobs too, in the OCI archive
    with tarfile.open(tmp_path / "later.tar") as tar:
        assert {m.mtime for m in tar.getmembers()} == {1_700_000_000}
    for write, kind in ((write_oci_archive, "OCI archive"), (write_docker_archive, "docker archive")):
        with pytest.raises(ArchiveError) as info:
            write(tmp_path / "o.tar" / "x.tar", image)  # under a file
        assert str(info.value).startswith(f"cannot write {kind} {tmp_path / 'o.tar' / 'x.tar'}: ")
    with pytest.raises(ArchiveError) as info:  # what runs nothing has no place in a docker archive
        write_docker_archive(tmp_path / "sbom.tar", sbom)
    assert str(info.value) == "a docker archive holds runnable images; this artifact has none"
