"""Repositories as they are: a module that replaces ../lib, whose file is a symlink into a sibling
directory (fixtures/multimod, shaped like etcd's server → ../client/v3 → ../../tests), builds,
gives the same digest wherever the tree lives, and its unchanged rebuild starts no container."""

from __future__ import annotations

import json
import shutil

from support.cli import leango
from support.paths import FIXTURES


def _build(source, cache, out, *extra):
    proc = leango("build", source, "--json", "--cache-dir", cache, "--oci-layout", out, "-v", *extra)
    return json.loads(proc.stdout)["digest"], proc.stderr


def test_a_replaced_module_linking_to_a_sibling_builds_and_runs(tmp_path, cache_dir):
    from support.peers import Buildah
    digest, _ = _build(FIXTURES / "multimod" / "server", cache_dir, tmp_path / "l")
    out = Buildah(tmp_path / "run").run_image(f"oci:{tmp_path / 'l'}", "/server").stdout
    assert out == "server v1-shared\n"  # the linked file's code is in the binary
    # Outside any repository the tree is the lowest directory holding module and replacement.
    copy = tmp_path / "elsewhere" / "deep" / "multimod"
    shutil.copytree(FIXTURES / "multimod", copy, symlinks=True)
    assert (copy / "lib" / "version.go").is_symlink()
    moved, _ = _build(copy / "server", cache_dir, tmp_path / "l2")
    assert moved == digest


def test_the_unchanged_rebuild_starts_no_container_and_a_linked_edit_rebuilds(tmp_path, cache_dir):
    copy = tmp_path / "repo"
    shutil.copytree(FIXTURES / "multimod", copy, symlinks=True)
    (copy / ".git").mkdir()  # a repository: its root is the tree
    first, _ = _build(copy / "server", tmp_path / "c", tmp_path / "l")
    again, log = _build(copy / "server", tmp_path / "c", tmp_path / "l")
    assert again == first and "nothing changed" in log
    assert "run: buildah from" not in log and "run: buildah run" not in log
    shared = copy / "shared" / "version.go"
    shared.write_text(shared.read_text().replace("v1-shared", "v2-shared"))
    edited, log = _build(copy / "server", tmp_path / "c", tmp_path / "l")
    assert edited != first and "compiling example.com/server" in log
