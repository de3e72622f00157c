"""The Go build cache through a real registry: push, pull into an empty cache, push again
uploading only what changed; a mismatched, missing, foreign or corrupted cache is never used;
the ORAS CLI pulls it as files."""

from __future__ import annotations

import json
import logging
import tarfile

import zstandard

from leango.builder import cacheremote, gocache
from leango.builder.gocache import CacheKey, RemoteCache, Store
from leango.oci import parse_reference
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
