"""A no-change rebuild reuses the last images without starting a container; changing any input,
of every kind, builds again. Nothing stale, ever."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from leango.builder import BuildSpec, Outputs, SubprocessRunner, build
from leango.builder.platform import host_platform, parse_platform
from support.paths import FIXTURES

MAIN = '''package main

import (
\t_ "embed"
\t"fmt"

\t"example.com/lib"
)

//go:embed data.txt
var data string

func main() { fmt.Print(lib.Greeting(), " ", data) }
'''


class Counting(SubprocessRunner):
    """Counts the builds that compiled (one `go build` each here: one package, one platform) and
    the containers started."""

    def __init__(self) -> None:
        self.compiles = 0
        self.containers = 0

    def run(self, argv, **kw):
        if list(argv[:2]) == ["buildah", "from"]:
            self.containers += 1
        if list(argv[:2]) == ["buildah", "run"] and argv[argv.index("--") + 2:argv.index("--") + 3] == ["build"]:
            self.compiles += 1
        return super().run(argv, **kw)


@pytest.fixture
def tree(tmp_path) -> Path:
    """app (embeds data.txt, replaces example.com/lib => ../lib) beside lib, and a vendored module."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "go.mod").write_text("module example.com/lib\n\ngo 1.21\n")
    (tmp_path / "lib" / "lib.go").write_text('package lib\n\nfunc Greeting() string { return "hello" }\n')
    app = tmp_path / "app"
    app.mkdir()
    (app / "go.mod").write_text("module example.com/app\n\ngo 1.21\n\nrequire example.com/lib v0.0.0\n\n"
                                "replace example.com/lib => ../lib\n")
    (app / "main.go").write_text(MAIN)
    (app / "data.txt").write_text("world\n")
    shutil.copytree(FIXTURES / "vendored", tmp_path / "vendored")
    return tmp_path


def _spec(tree: Path, cache: Path, source: str = "app", **kw) -> BuildSpec:
    return BuildSpec(sources=(str(tree / source),), cache_dir=cache, platforms=(host_platform(),),
                     outputs=Outputs(oci_layout=tree / "out"), **kw)


def _go_sum(tree: Path) -> None:
    (tree / "app" / "go.sum").write_text("")


def _toolchain_copy(tree: Path, goroot: Path) -> dict:
    copy = tree / "goroot-copy"
    subprocess.run(["cp", "-al", str(goroot), str(copy)], check=True)
    return {"goroot": copy}


def _write(path: Path, text: str) -> dict:
    path.write_text(text)
    return {}


CHANGES = {
    "a .go file": lambda t, g: _write(t / "app" / "main.go", MAIN.replace('" "', '", "')),
    "an embedded file": lambda t, g: _write(t / "app" / "data.txt", "there\n"),
    "go.mod": lambda t, g: _write(t / "app" / "go.mod", (t / "app" / "go.mod").read_text() + "\n// a comment\n"),
    "go.sum": lambda t, g: _go_sum(t) or {},
    "a file in a replace ../lib module": lambda t, g: _write(
        t / "lib" / "lib.go", 'package lib\n\nfunc Greeting() string { return "hi" }\n'),
    "a flag": lambda t, g: {"ldflags": "-X main.unused=1"},
    "an --env value": lambda t, g: {"env": (("GOFIPS140", "latest"),)},
    "the toolchain": _toolchain_copy,
    "the platform": lambda t, g: {"platforms": (parse_platform("linux/arm64"),)},
    "the CA bundle": lambda t, g: _ca(t),
    "SOURCE_DATE_EPOCH": lambda t, g: {"source_date_epoch": 1700000000},
}


# Changes that make another image (the others rebuild to the same bytes, which is fine).
OUTPUT_CHANGES = {"a .go file", "an embedded file", "a file in a replace ../lib module", "an --env value",
                  "the platform", "the CA bundle", "SOURCE_DATE_EPOCH"}


def _ca(tree: Path) -> dict:
    import certifi
    pem = Path(certifi.where()).read_text().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    (tree / "extra.pem").write_text(pem)
    return {"ca_certs": (tree / "extra.pem",)}


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_kind_of_input_rebuilds_and_nothing_else_does(tree, tmp_path, cache_dir, goroot, change):
    cache = cache_dir  # a warm Go cache; records are keyed by the tree, which is new here
    runner = Counting()
    first = build(_spec(tree, cache), runner)
    assert runner.compiles == 1
    started = runner.containers
    again = build(_spec(tree, cache), runner)
    assert runner.containers == started, "an untouched rebuild started a container"
    assert again.digest == first.digest
    options = CHANGES[change](tree, goroot)
    changed = build(replace(_spec(tree, cache), **options), runner)
    assert runner.compiles == 2, f"changing {change} did not rebuild"
    if change in OUTPUT_CHANGES:
        assert changed.digest != first.digest


def test_vendored_files_are_inputs_too(tree, cache_dir):
    runner = Counting()
    cache = cache_dir
    build(_spec(tree, cache, "vendored"), runner)
    build(_spec(tree, cache, "vendored"), runner)
    assert runner.compiles == 1
    vendored = next((tree / "vendored" / "vendor").rglob("*.go"))
    vendored.write_text(vendored.read_text() + "\n// changed\n")
    build(_spec(tree, cache, "vendored"), runner)
    assert runner.compiles == 2


def test_a_lost_layer_blob_or_a_symlink_means_build(tree, tmp_path):
    runner = Counting()
    cache = tmp_path / "cache"
    build(_spec(tree, cache), runner)
    for blob in (cache / "layers").iterdir():
        blob.unlink()
    build(_spec(tree, cache), runner)
    assert runner.compiles == 2, "a record whose layers are gone must not be used"
    (tree / "app" / "link").symlink_to("/etc/hostname")  # outside the tree the container sees
    build(_spec(tree, cache), runner)
    build(_spec(tree, cache), runner)
    assert runner.compiles == 4, "a tree leango cannot fingerprint safely always builds"


def test_symlinks_count_by_target_and_the_content_they_lead_to(tree, cache_dir):
    """Links inside the mounted tree (the directory holding app and lib here) are fingerprinted:
    an untouched rebuild starts no container; changing what a link leads to, or where, builds."""
    runner = Counting()
    (tree / "notes").mkdir()
    (tree / "notes" / "a.txt").write_text("same\n")
    (tree / "notes" / "b.txt").write_text("same\n")
    (tree / "app" / "link").symlink_to("../notes/a.txt")
    (tree / "app" / "dirlink").symlink_to("../notes")
    (tree / "notes" / "loop").symlink_to("..")  # a cycle is walked once
    build(_spec(tree, cache_dir), runner)
    started = runner.containers
    build(_spec(tree, cache_dir), runner)
    assert runner.compiles == 1 and runner.containers == started
    (tree / "notes" / "a.txt").write_text("changed\n")
    build(_spec(tree, cache_dir), runner)
    assert runner.compiles == 2, "a linked file's content is an input"
    (tree / "app" / "link").unlink()
    (tree / "app" / "link").symlink_to("../notes/b.txt")
    build(_spec(tree, cache_dir), runner)
    assert runner.compiles == 3, "a link's target is an input"
    (tree / "notes" / "c.txt").write_text("new\n")
    build(_spec(tree, cache_dir), runner)
    assert runner.compiles == 4, "a file in a linked directory is an input"
    build(_spec(tree, cache_dir), runner)
    assert runner.compiles == 4


def test_rebuild_flag_compiles_anyway(tree, cache_dir):
    runner = Counting()
    cache = cache_dir
    build(_spec(tree, cache), runner)
    build(replace(_spec(tree, cache), reuse=False), runner)
    assert runner.compiles == 2


class EditsDuringCompile(Counting):
    """Saves a new data.txt while `go build` runs (after it has read the old one)."""

    def __init__(self, path: Path, text: str) -> None:
        super().__init__()
        self.path, self.text = path, text

    def run(self, argv, **kw):
        result = super().run(argv, **kw)
        if list(argv[:2]) == ["buildah", "run"] and "build" in argv and self.text:
            self.path.write_text(self.text)
            self.text = ""
        return result


def test_an_input_saved_during_the_compile_leaves_no_record(tree, cache_dir):
    edits = EditsDuringCompile(tree / "app" / "data.txt", "saved mid-build\n")
    first = build(_spec(tree, cache_dir), edits)
    assert edits.compiles == 1
    runner = Counting()
    again = build(_spec(tree, cache_dir), runner)
    assert runner.compiles == 1, "the image of the old data.txt was reused for the new one"
    assert again.digest != first.digest
    build(_spec(tree, cache_dir), runner)
    assert runner.compiles == 1  # inputs that held still: recorded, reused


def test_a_directory_named_leango_out_is_an_input_unless_leango_wrote_it(tree, cache_dir):
    app = tree / "app"
    (app / "leango-out").mkdir()
    (app / "leango-out" / "data.txt").write_text("embedded\n")
    (app / "main.go").write_text(MAIN.replace("//go:embed data.txt", "//go:embed leango-out/data.txt"))
    runner = Counting()
    build(_spec(tree, cache_dir), runner)
    (app / "leango-out" / "data.txt").write_text("changed\n")
    build(_spec(tree, cache_dir), runner)
    assert runner.compiles == 2, "go:embed read a file the key left out"
    # leango's own default output directory, written into the module: not an input.
    default = replace(_spec(tree, cache_dir), outputs=Outputs(oci_layout=app / "leango-out" / "{binary}"))
    build(default, runner)
    build(default, runner)
    assert runner.compiles == 3 and (app / "leango-out" / "app" / "index.json").is_file()


def test_a_patched_toolchain_rebuilds(tree, tmp_path, goroot):
    """A backported fix in GOROOT/src (written as patch writes: a new file renamed over the old)."""
    copy = tree / "goroot-copy"
    subprocess.run(["cp", "-al", str(goroot), str(copy)], check=True)  # hard links: renames stay in the copy
    runner = Counting()
    spec = replace(_spec(tree, tmp_path / "cache"), goroot=copy)
    build(spec, runner)
    build(spec, runner)
    assert runner.compiles == 1
    source = copy / "src" / "fmt" / "print.go"
    patched = tree / "print.go.new"
    patched.write_text(source.read_text() + "\n// a backported fix\n")
    os.replace(patched, source)
    build(spec, runner)
    assert runner.compiles == 2, "a patched standard library reused the old image"
