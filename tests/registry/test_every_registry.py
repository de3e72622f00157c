"""One suite, the same assertions, against every real registry set-up (tests/registry/conftest.py's
every_registry): Debian's docker-registry (distribution 2.8, plain HTTP), distribution v3 (TLS
from the test CA, htpasswd accounts), go-containerregistry's registry with the OCI 1.1 referrers
API and without it. What a registry cannot do — the referrers API, accounts — is a branch the
assertions take, never a skip: each branch says what the registry does instead."""

from __future__ import annotations

import json
import subprocess

from leango.builder import cacheremote
from leango.builder.gocache import CacheKey, RemoteCache, Store
from leango.oci import Digest, Index, Platform, parse_reference
from leango.oci.blob import Blob
from leango.oci.descriptor import Descriptor
from leango.oci.manifest import Manifest
from leango.oci.referrers import fallback_tag
from leango.oci.sinks.layout import write_layout
from support.artifacts import sbom_of
from support.cli import leango
from support.gocache import fill
from support.peers import skopeo_inspect
from support.tools import require

KEY = CacheKey("go1.26.8", "linux/amd64", ("linux/amd64",))


def raw_manifest(reg, ref: str) -> bytes:
    require("skopeo")
    return subprocess.run(["skopeo", "inspect", "--raw", *reg.skopeo(), f"docker://{ref}"], capture_output=True,
                          check=True).stdout


def test_push_an_image_and_an_index_then_again_with_nothing_uploaded(every_registry, make_image, do_push):
    reg = every_registry
    # a second platform of the same binary (its ELF fits both), as GOAMD64=v3 builds are listed;
    # a time of their own, so no other test's push (go-containerregistry keeps one blob store for
    # all repositories) holds any of their layers
    amd64 = make_image("every", mtime=1_764_806_400)
    v3 = make_image("every", Platform("linux", "amd64", "v3"), mtime=1_764_806_400)
    index = Index((amd64, v3))
    push = dict(sources=reg.credentials(), options=reg.options())
    [image] = do_push(amd64, [f"{reg.host}/every/app:amd64"], **push)
    assert image.report.count("uploaded") == 3 and image.report.bytes_uploaded > 0
    [multi] = do_push(index, [f"{reg.host}/every/app:v1"], **push)
    # the amd64 image is there, and the v3 one shares its layers: only its config is sent
    assert [b.digest for b in multi.report.blobs if b.action == "uploaded"] == [str(v3.config_blob.digest)]
    assert str(multi.reference) == f"{reg.host}/every/app:v1@{index.digest}"
    # read back by an independent client, byte for byte
    assert raw_manifest(reg, f"{reg.host}/every/app:v1") == index.raw
    assert skopeo_inspect(f"docker://{reg.host}/every/app:amd64", extra=reg.skopeo())["Digest"] == str(amd64.digest)
    # again: every blob is found, nothing is sent
    [again] = do_push(index, [f"{reg.host}/every/app:v1"], **push)
    assert again.report.count("uploaded") == 0 and again.report.bytes_uploaded == 0


def test_copy_both_ways_with_the_referrers(every_registry, make_image, tmp_path):
    reg = every_registry
    index = Index((make_image("copy"), make_image("copy", Platform("linux", "amd64", "v3"))))
    sbom = sbom_of(index)
    write_layout(tmp_path / "layout", index, ["copy:v1"], referrers=[sbom])

    # air gap → registry
    target = f"{reg.host}/every/copy:v1"
    out = json.loads(leango("copy", f"oci:{tmp_path / 'layout'}:copy:v1", f"docker://{target}", "--json",
                            *reg.flags(), env=reg.env()).stdout)
    assert out["digest"] == str(index.digest), out
    assert raw_manifest(reg, target) == index.raw
    with reg.client() as client:
        repo = client.repository(reg.host, "every/copy")
        assert [d.digest for d in repo.referrers(index.digest)] == [sbom.digest]
        # the referrers API where the registry has it, else the fallback tag: nothing else differs
        assert repo.referrers_api(index.digest) is reg.referrers_api
        assert (fallback_tag(index.digest) in repo.tags()) is (not reg.referrers_api)

    # registry → air gap, and the archive is what it says
    archive = tmp_path / "back.oci.tar"
    leango("copy", f"docker://{target}", f"oci-archive:{archive}:copy:v1", *reg.flags(), env=reg.env())
    assert skopeo_inspect(f"oci-archive:{archive}:copy:v1", raw=True) == json.loads(index.raw)
    leango("verify", f"oci-archive:{archive}", env=reg.env())
    leango("copy", f"oci-archive:{archive}", f"oci:{tmp_path / 'back'}", env=reg.env())
    listed = {e["digest"] for e in json.loads((tmp_path / "back" / "index.json").read_text())["manifests"]}
    assert listed == {str(index.digest), str(sbom.digest)}

    # and back into another repository: the same digests, the SBOM still attached
    leango("copy", f"oci-archive:{archive}", f"docker://{reg.host}/every/copy2:v1", *reg.flags(), env=reg.env())
    with reg.client() as client:
        repo = client.repository(reg.host, "every/copy2")
        assert repo.manifest("v1").digest == index.digest
        assert [d.digest for d in repo.referrers(index.digest)] == [sbom.digest]
    leango("verify", f"docker://{reg.host}/every/copy2:v1", *reg.flags(), env=reg.env())


def test_the_go_build_cache_artifact(every_registry, tmp_path):
    reg = every_registry

    def remote(**kw) -> RemoteCache:
        return RemoteCache(credentials=reg.credentials(), registry=reg.options(), **kw)

    one, two = tmp_path / "one", tmp_path / "two"
    fill(one / "go-build", [f"pkg{i}" for i in range(200)])
    ref = parse_reference(f"{reg.host}/every/cache:go")
    first = cacheremote.save(remote(cache_to=ref), KEY, one / "go-build", Store.open(one / "store"))
    chunks = int(first.split(": ")[1].split(" chunks")[0])
    assert f"{chunks} chunks, {chunks} uploaded" in first
    assert cacheremote.restore(remote(cache_from=(ref,)), KEY, two / "go-build", Store.open(two / "store")) == 200
    assert sorted(p.relative_to(two) for p in (two / "go-build").rglob("*") if p.is_file()) == \
        sorted(p.relative_to(one) for p in (one / "go-build").rglob("*") if p.is_file())
    # the second runner pushes back only what it added
    fill(two / "go-build", ["edited"])
    again = cacheremote.save(remote(cache_to=ref), KEY, two / "go-build", Store.open(two / "store"))
    assert f"{chunks + 1} chunks, 1 uploaded" in again


def test_accounts(every_registry, make_image, tmp_path):
    """Where the registry has accounts, a push needs the right one; where it has none, anyone
    may push (the other tests push with the account, or with none)."""
    reg = every_registry
    write_layout(tmp_path / "layout", make_image("acct"), ["acct:v1"])
    src = f"oci:{tmp_path / 'layout'}:acct:v1"
    anonymous = reg.env()
    anonymous.pop("REGISTRY_AUTH_FILE", None)
    anonymous["REGISTRY_AUTH_FILE"] = str(tmp_path / "none.json")  # no file: no credentials
    proc = leango("copy", src, f"docker://{reg.host}/every/acct:v1", *reg.flags(), env=anonymous, check=False)
    if not reg.auth:
        assert proc.returncode == 0, proc.stderr
        return
    errors = [line for line in proc.stderr.splitlines() if line.startswith("leango: error:")]
    assert proc.returncode == 1 and errors == ["leango: error: registry requires a login and no credentials were "
                                               "found (use `leango login` or a docker/podman login)"], proc.stderr
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"auths": {reg.host: {"auth": "d3Jvbmc6d3Jvbmc="}}}))  # wrong:wrong
    proc = leango("copy", src, f"docker://{reg.host}/every/acct:v1", *reg.flags(),
                  env=anonymous | {"REGISTRY_AUTH_FILE": str(wrong)}, check=False)
    assert proc.returncode == 1 and "authentication failed" in proc.stderr, proc.stderr
    leango("copy", src, f"docker://{reg.host}/every/acct:v1", *reg.flags(), env=reg.env())


def test_registry_check_says_what_the_registry_is(every_registry, tmp_path):
    reg = every_registry
    proc = leango("registry", "check", f"{reg.host}/every/check", "--json", "--cache-dir", tmp_path, *reg.flags(),
                  env=reg.env())
    found = {k: v["value"] for k, v in json.loads(proc.stdout)["checks"].items()}
    assert found["scheme"] == ("https" if reg.ca else "http")
    assert found["tls_verified"] is bool(reg.ca)
    assert found["auth"] == ("basic" if reg.auth else "none")
    assert found["referrers_api"] is reg.referrers_api
    assert (found["pull"], found["push"]) == (True, True)
    assert found["upload"] == {"monolithic": True, "chunked": None, "minChunk": 0}
    assert (found["mount"], found["tag_paging"]) == (reg.mount, reg.tag_paging)
    assert (found["delete"], found["zstd_layers"], found["manifest_4mib"]) == (True, True, True)
    assert json.loads(proc.stdout)["leftBehind"] == []


def test_tags_in_pages_or_whole(every_registry):
    """Tags are listed whole whether or not the registry pages them when asked."""
    reg = every_registry
    data = b"tags"
    art = Manifest("application/vnd.test.a",
                   (Blob(Descriptor("application/vnd.test.file", Digest.of_bytes(data), len(data)), data=data),))
    names = sorted(f"t{i}" for i in range(7))
    with reg.client() as client:
        repo = client.repository(reg.host, "every/tags")
        repo.push(art, tuple(names))
        assert sorted(repo.tags(page_size=2)) == names
        assert sorted(repo.tags()) == names
