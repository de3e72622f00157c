"""--cache-to / --cache-from through the CLI: a fresh runner (empty caches) builds an edited
program with the Go build cache the last runner pushed, and pushes back only what changed."""

from __future__ import annotations

import re
import shutil

from support.cli import leango
from support.paths import FIXTURES
from support.peers import Buildah


def _entries(cache_dir, pulled: bool = False) -> dict[str, bytes]:
    """The entries of the local Go build cache, or (pulled) of the one a --cache-from build used."""
    if pulled:
        (root,) = (cache_dir / "go" / "go-build-pulled").iterdir()
    else:
        root = cache_dir / "go" / "go-build"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.glob("??/*") if p.is_file()}


def test_a_fresh_runner_builds_with_the_cache_of_the_last(registry, tmp_path):
    app = tmp_path / "app"
    shutil.copytree(FIXTURES / "hello-world", app)
    ref = f"{registry.host}/cache/hello:go"
    runner1, runner2 = tmp_path / "runner1", tmp_path / "runner2"

    first = leango("build", app, "--cache-dir", runner1, "--cache-to", ref, "--oci-archive", tmp_path / "1.tar")
    pushed = re.search(r"pushed the Go build cache to \S+: (\d+) chunks, (\d+) uploaded", first.stderr)
    assert pushed and pushed[1] == pushed[2], first.stderr

    main = app / "main.go"
    main.write_text(main.read_text().replace('"Hello world"', '"Hello from the cache"'))
    second = leango("build", app, "--cache-dir", runner2, "--cache-from", ref, "--cache-to", ref,
                    "--oci-archive", tmp_path / "2.tar")
    restored = re.search(r"Go build cache from \S+: \d+ chunks, (\d+) entries added", second.stderr)
    assert restored and int(restored[1]) == len(_entries(runner1)), second.stderr
    # The standard library came from the cache, unchanged: every entry runner1 made is in
    # runner2 byte for byte (go rewrites an action entry it recompiles), and runner2 added only
    # the edited package and its link.
    before, after = _entries(runner1), _entries(runner2, pulled=True)
    assert all(after.get(name) == data for name, data in before.items())
    assert 0 < len(after) - len(before) <= 8
    again = re.search(r"pushed the Go build cache to \S+: (\d+) chunks, (\d+) uploaded", second.stderr)
    assert again and 0 < int(again[2]) < int(again[1]), second.stderr  # only the new chunk(s)

    ran = Buildah(tmp_path / "b").run_image(f"oci-archive:{tmp_path / '2.tar'}", "/hello-world")
    assert ran.stdout == "Hello from the cache\n"


def test_cache_flags_are_checked_before_building(tmp_path):
    proc = leango("build", FIXTURES / "hello-world", "--cache-dir", tmp_path, "--cache-to",
                  "localhost:5000/cache@sha256:" + "a" * 64, check=False)
    assert proc.returncode == 2
    assert "give a tag to push the cache to" in proc.stderr
    proc = leango("build", FIXTURES / "hello-world", "--cache-dir", tmp_path, "--cache-from", "Not A Ref", check=False)
    assert proc.returncode == 2 and "error:" in proc.stderr


def test_a_pulled_cache_never_outlives_its_cache_from(registry, tmp_path):
    """After a build with --cache-from, one without compiles again (no reuse of the image made with
    pulled entries) against the local cache, which holds none of them."""
    app = tmp_path / "app"
    shutil.copytree(FIXTURES / "hello-world", app)
    ref = f"{registry.host}/cache/outlive:go"
    leango("build", app, "--cache-dir", tmp_path / "pusher", "--cache-to", ref, "--oci-layout", tmp_path / "l0")
    runner = tmp_path / "runner"
    pulled = leango("build", app, "--cache-dir", runner, "--cache-from", ref, "--oci-layout", tmp_path / "l1")
    assert "entries added" in pulled.stderr
    assert _entries(runner) == {}  # nothing pulled reached the local cache
    release = leango("build", app, "--cache-dir", runner, "--oci-layout", tmp_path / "l2", "-v")
    assert "nothing changed" not in release.stderr and "compiling example.com/hello-world" in release.stderr
    # It mounted the local cache, never the pulled one, and compiled into it.
    assert f"{runner}/go/go-build:/cache/go-build:rw" in release.stderr and "go-build-pulled" not in release.stderr
    assert _entries(runner)
    again = leango("build", app, "--cache-dir", runner, "--cache-from", ref, "--oci-layout", tmp_path / "l3")
    assert "nothing changed" in again.stderr  # the same --cache-from: its own record
