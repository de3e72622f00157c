"""The Go build cache through a real registry: push, pull into an empty cache, push again
uploading only what changed; a mismatched, missing, foreign or corrupted cache is never used;
the ORAS CLI pulls it as files."""

from __future__ import annotations

import json
import logging
import tarfile

import pytest
import zstandard

from leango.builder import cacheremote, gocache
from leango.builder.gocache import CacheKey, RemoteCache, Store
from leango.oci import parse_reference
from leango.oci.errors import RegistryError
from leango.oci.registry.transport import RegistryOptions
from support.clock import instant_retry
from support.faultproxy import Fault
from support.gocache import fill
from support.tools import require_go_tool, run

KEY = CacheKey("go1.26.8", "linux/amd64", ("linux/amd64",))


def remote(host: str, *, cache_from=(), cache_to="") -> RemoteCache:
    return RemoteCache(tuple(parse_reference(f"{host}/{r}") for r in cache_from),
                       parse_reference(f"{host}/{cache_to}") if cache_to else None,
                       registry=RegistryOptions(retry=instant_retry(2)))


def same_tree(a, b) -> None:
    files_a = {p.relative_to(a): p.read_bytes() for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b): p.read_bytes() for p in b.rglob("*") if p.is_file()}
    assert files_a == files_b


def test_push_pull_and_push_again_uploads_only_the_new_chunk(registry, tmp_path):
    runner1, runner2 = tmp_path / "runner1", tmp_path / "runner2"
    fill(runner1 / "go-build", [f"std{i}" for i in range(300)])
    fill(runner1 / "go-build", ["act"], kind="a")
    first = cacheremote.save(remote(registry.host, cache_to="cache/app:go"), KEY, runner1 / "go-build",
                         Store.open(runner1 / "store"))
    chunks = int(first.split(": ")[1].split(" chunks")[0])
    assert chunks > 1 and f"{chunks} chunks, {chunks} uploaded" in first

    r = remote(registry.host, cache_from=["cache/app:go"], cache_to="cache/app:go")
    added = cacheremote.restore(r, KEY, runner2 / "go-build", Store.open(runner2 / "store"))
    assert added == 301
    same_tree(runner1 / "go-build", runner2 / "go-build")

    fill(runner2 / "go-build", ["the-edited-package"])  # what the next build adds
    second = cacheremote.save(r, KEY, runner2 / "go-build", Store.open(runner2 / "store"))
    assert f"{chunks + 1} chunks, 1 uploaded" in second


def test_oras_pulls_the_cache_as_files(registry, tmp_path):
    oras = require_go_tool("oras")
    fill(tmp_path / "go-build", [f"e{i}" for i in range(100)])
    cacheremote.save(remote(registry.host, cache_to="cache/oras:go"), KEY, tmp_path / "go-build",
                 Store.open(tmp_path / "store"))
    ref = f"{registry.host}/cache/oras:go"
    manifest = json.loads(run([oras, "manifest", "fetch", "--plain-http", ref]).stdout)
    assert manifest["artifactType"] == gocache.ARTIFACT_TYPE
    assert manifest["annotations"]["dev.leango.cache.go-version"] == "go1.26.8"
    out = tmp_path / "pulled"
    run([oras, "pull", "--plain-http", "-o", str(out), ref])
    titles = sorted(layer["annotations"]["org.opencontainers.image.title"] for layer in manifest["layers"])
    assert sorted(p.name for p in out.iterdir()) == titles
    names = []
    for title in titles:
        with open(out / title, "rb") as f, \
                tarfile.open(fileobj=zstandard.ZstdDecompressor().stream_reader(f), mode="r|") as tar:
            names += [m.name for m in tar if m.isreg()]
    assert sorted(names) == sorted(gocache.entries(tmp_path / "go-build"))


def test_a_cache_for_another_toolchain_is_ignored(registry, tmp_path, caplog):
    fill(tmp_path / "old", [f"e{i}" for i in range(20)])
    cacheremote.save(remote(registry.host, cache_to="cache/key:go"), CacheKey("go1.25.0", "linux/amd64",
                 ("linux/amd64",)), tmp_path / "old", Store.open(tmp_path / "s1"))
    with caplog.at_level(logging.INFO):
        added = cacheremote.restore(remote(registry.host, cache_from=["cache/key:go"]), KEY, tmp_path / "new",
                                Store.open(tmp_path / "s2"))
    assert added == 0 and not (tmp_path / "new").exists()
    assert "made by go1.25.0, this build uses go1.26.8" in caplog.text


def test_no_cache_yet_is_not_an_error(registry, tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        added = cacheremote.restore(remote(registry.host, cache_from=["cache/never:go"]), KEY, tmp_path / "c",
                                Store.open(tmp_path / "s"))
    assert added == 0
    assert f"no Go build cache at {registry.host}/cache/never:go yet" in caplog.text


def test_an_image_is_not_taken_for_a_cache(registry, do_push, make_image, tmp_path, caplog):
    do_push(make_image(), [f"{registry.host}/cache/image:go"])
    with caplog.at_level(logging.WARNING):
        added = cacheremote.restore(remote(registry.host, cache_from=["cache/image:go"]), KEY, tmp_path / "c",
                                Store.open(tmp_path / "s"))
    assert added == 0 and not (tmp_path / "c").exists()
    assert "not a leango Go build cache" in caplog.text


def test_a_corrupted_chunk_is_never_extracted(registry, proxy, tmp_path, caplog):
    fill(tmp_path / "src", [f"e{i}" for i in range(20)])
    cacheremote.save(remote(registry.host, cache_to="cache/bad:go"), KEY, tmp_path / "src",
                 Store.open(tmp_path / "s1"))
    proxy.add(Fault("GET", "/blobs/sha256:", "status", status=200, body=b"\x28\xb5\x2f\xfd" + b"evil" * 100,
                    times=-1))
    with caplog.at_level(logging.WARNING):
        added = cacheremote.restore(remote(proxy.host, cache_from=["cache/bad:go"]), KEY, tmp_path / "dst",
                                Store.open(tmp_path / "s2"))
    assert added == 0
    assert not [p for p in (tmp_path / "dst").rglob("*") if p.is_file()]
    assert f"not using the Go build cache at {proxy.host}/cache/bad:go: " in caplog.text


def test_pulled_chunks_are_reused_for_a_push_elsewhere(registry, tmp_path):
    fill(tmp_path / "a", [f"e{i}" for i in range(150)])
    cacheremote.save(remote(registry.host, cache_to="cache/src:go"), KEY, tmp_path / "a", Store.open(tmp_path / "sa"))
    r = remote(registry.host, cache_from=["cache/src:go"], cache_to="cache/dst:go")
    cacheremote.restore(r, KEY, tmp_path / "b", Store.open(tmp_path / "sb"))
    cacheremote.save(r, KEY, tmp_path / "b", Store.open(tmp_path / "sb"))
    # Another repository gets the very chunks pulled (same digests): nothing was re-packed.
    oras = require_go_tool("oras")
    src, dst = (json.loads(run([oras, "manifest", "fetch", "--plain-http", f"{registry.host}/cache/{repo}:go"]).stdout)
                for repo in ("src", "dst"))
    assert [lay["digest"] for lay in src["layers"]] == [lay["digest"] for lay in dst["layers"]]


def test_the_timeout_covers_the_restore(registry, tmp_path, caplog):
    """--timeout starts before the pull: past its deadline, what is left of the cache is skipped
    (a cache is an optimisation) and the build goes on, with what is left of the time."""
    import time
    fill(tmp_path / "src" / "go-build", [f"e{i}" for i in range(50)])
    cacheremote.save(remote(registry.host, cache_to="cache/deadline:go"), KEY, tmp_path / "src" / "go-build",
                 Store.open(tmp_path / "src" / "store"))
    r = remote(registry.host, cache_from=["cache/deadline:go"])
    caplog.set_level(logging.WARNING)
    late = cacheremote.restore(r, KEY, tmp_path / "late" / "go-build", Store.open(tmp_path / "late" / "store"),
                           deadline=time.monotonic() - 1)
    assert late == 0 and any("--timeout reached" in rec.getMessage() for rec in caplog.records)
    in_time = cacheremote.restore(r, KEY, tmp_path / "ok" / "go-build", Store.open(tmp_path / "ok" / "store"),
                              deadline=time.monotonic() + 600)
    assert in_time == 50


def _ref(text="127.0.0.1:5000/cache/x:go"):
    return parse_reference(text)


def _doc(**kw) -> bytes:
    base = {"schemaVersion": 2, "artifactType": gocache.ARTIFACT_TYPE, "layers": [],
            "annotations": dict(KEY.annotations())}
    return json.dumps(base | kw).encode()


def test_what_a_cache_manifest_must_be_and_the_exact_refusals(caplog):
    assert cacheremote._cache_layers(_doc(), _ref(), KEY) == []
    for raw, message in [
        (b"[]", "the manifest is malformed: not an object"),
        (b"{", "the manifest is malformed: "),
        (_doc(artifactType=None, mediaType="application/vnd.oci.image.manifest.v1+json"),
         "it is a application/vnd.oci.image.manifest.v1+json, not a leango Go build cache"),
        (_doc(artifactType="application/spdx+json"), "it is a application/spdx+json, not a leango Go build cache"),
        (_doc(layers=[{"mediaType": "text/plain", "digest": "sha256:" + "a" * 64, "size": 1}]),
         f"layer sha256:{'a' * 64} is a text/plain, not a cache chunk"),
        (_doc(layers=[{"mediaType": gocache.CHUNK_TYPE, "digest": "sha256:" + "a" * 64,
                       "size": gocache.MAX_CHUNK_UNPACKED + 1}]),
         f"layer sha256:{'a' * 64} declares {gocache.MAX_CHUNK_UNPACKED + 1} bytes, more than a chunk may be"),
    ]:
        with pytest.raises(gocache.CacheError) as info:
            cacheremote._cache_layers(raw, _ref(), KEY)
        assert str(info.value).startswith(message), (raw, str(info.value))
    at_limit = [{"mediaType": gocache.CHUNK_TYPE, "digest": "sha256:" + "b" * 64, "size": gocache.MAX_CHUNK_UNPACKED}]
    assert [str(d.digest) for d in cacheremote._cache_layers(_doc(layers=at_limit), _ref(), KEY)] == ["sha256:" + "b" * 64]
    # Not an object where annotations belong: no key at all, so it does not match.
    with caplog.at_level(logging.WARNING):
        assert cacheremote._cache_layers(_doc(annotations=["x"]), _ref(), KEY) is None
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [f"ignoring the Go build cache at {_ref()}: made by an unknown toolchain, "
                               f"this build uses {KEY.go_version}"]


def test_two_caches_add_up_and_a_digest_reference_is_pulled_by_digest(registry, tmp_path, caplog):
    fill(tmp_path / "a", [f"a{i}" for i in range(30)])
    fill(tmp_path / "b", [f"b{i}" for i in range(20)])
    for name in ("a", "b"):
        cacheremote.save(remote(registry.host, cache_to=f"cache/two-{name}:go"), KEY, tmp_path / name,
                         Store.open(tmp_path / f"s{name}"))
    oras = require_go_tool("oras")
    digest = run([oras, "resolve", "--plain-http", f"{registry.host}/cache/two-b:go"]).stdout.strip()
    r = remote(registry.host, cache_from=["cache/two-a:go", f"cache/two-b@{digest}"])
    with caplog.at_level(logging.INFO):
        added = cacheremote.restore(r, KEY, tmp_path / "both", Store.open(tmp_path / "sboth"))
    assert added == 50
    assert f"Go build cache from {registry.host}/cache/two-b@{digest}: 1 chunks, 20 entries added" in caplog.messages


def test_chunks_already_in_the_store_are_not_downloaded_again(registry, proxy, tmp_path):
    fill(tmp_path / "src", [f"e{i}" for i in range(40)])
    cacheremote.save(remote(registry.host, cache_to="cache/local:go"), KEY, tmp_path / "src",
                     Store.open(tmp_path / "store"))
    # The same store (this runner pushed it): a pull reads the chunks it holds, through a proxy
    # that would corrupt any blob it served.
    proxy.add(Fault("GET", "/blobs/sha256:", "status", status=200, body=b"corrupt", times=-1))
    added = cacheremote.restore(remote(proxy.host, cache_from=["cache/local:go"]), KEY, tmp_path / "dst",
                                Store.open(tmp_path / "store"))
    assert added == 40


def test_a_passed_deadline_stops_before_the_first_chunk(registry, tmp_path, caplog):
    import time
    fill(tmp_path / "src", [f"e{i}" for i in range(10)])
    cacheremote.save(remote(registry.host, cache_to="cache/late:go"), KEY, tmp_path / "src",
                     Store.open(tmp_path / "s1"))
    with caplog.at_level(logging.WARNING):
        added = cacheremote.restore(remote(registry.host, cache_from=["cache/late:go"]), KEY, tmp_path / "dst",
                                    Store.open(tmp_path / "s2"), deadline=time.monotonic() - 1)
    assert added == 0
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [f"not using the Go build cache at {registry.host}/cache/late:go: --timeout reached "
                               "while pulling it; the build goes on without the rest"]


def test_the_cache_goes_through_the_accounts_and_options_it_is_given(fake, tmp_path, caplog):
    import base64

    from leango.oci.registry.credentials import CredentialSources
    auth = tmp_path / "auth.json"
    f = fake(auth="basic")
    auth.write_text(json.dumps({"auths": {f.host: {"auth": base64.b64encode(b"user:pass").decode()}}}))
    fill(tmp_path / "a" / "go-build", ["std", "app"])
    account = RemoteCache((parse_reference(f"{f.host}/cache/app:go"),), parse_reference(f"{f.host}/cache/app:go"),
                          credentials=CredentialSources((auth,)), registry=RegistryOptions(retry=instant_retry(2)))
    said = cacheremote.save(account, KEY, tmp_path / "a" / "go-build", Store.open(tmp_path / "a" / "store"))
    sent = sum(p.stat().st_size for p in (tmp_path / "a" / "store" / "blobs").iterdir())
    assert said.endswith(f"1 uploaded ({sent / 1e6:.1f} MB)")
    assert cacheremote.restore(account, KEY, tmp_path / "b" / "go-build", Store.open(tmp_path / "b" / "store")) == 2
    anonymous = RemoteCache(account.cache_from, account.cache_to, registry=account.registry)
    with caplog.at_level(logging.WARNING):  # the same registry without the account: refused
        assert cacheremote.restore(anonymous, KEY, tmp_path / "c" / "go-build", Store.open(tmp_path / "c" / "store")) == 0
    assert f"not using the Go build cache at {f.host}/cache/app:go: registry requires a login" in caplog.text
    # the registry options given are the ones used: one attempt, so a 429 is the end of it
    limited = fake(rate_limited=1)
    once = RemoteCache(cache_to=parse_reference(f"{limited.host}/cache/app:go"), registry=RegistryOptions(retry=instant_retry(1)))
    with pytest.raises(RegistryError) as info:
        cacheremote.save(once, KEY, tmp_path / "a" / "go-build", Store.open(tmp_path / "a" / "store"))
    assert info.value.status == 429
