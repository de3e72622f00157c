"""The edit path: no download step when the module cache has every module, and a single
directory's package compiled without `go list` — the same image as the long way; `go list`
still speaks when the directory is not a command."""

from __future__ import annotations

import shutil

import pytest

from leango.builder import BuildSpec, Outputs, SubprocessRunner, build
from leango.builder.errors import CompileError, SourceError
from leango.builder.platform import host_platform
from leango.builder.source import module_path
from support.cli import compiled_binary
from support.paths import FIXTURES


class Recording(SubprocessRunner):
    """Records, in order, each `buildah run`'s go subcommand and each container made."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.containers = 0

    def run(self, argv, **kw):
        if list(argv[:2]) == ["buildah", "run"]:
            self.runs.append(argv[argv.index("--") + 2])
        self.containers += list(argv[:2]) == ["buildah", "from"]
        return super().run(argv, **kw)


def _build(src, cache, out, runner, source="."):
    spec = BuildSpec(sources=(source,), cwd=src, cache_dir=cache, platforms=(host_platform(),),
                     outputs=Outputs(oci_layout=out), reuse=False)
    return build(spec, runner)


def test_a_single_directory_compiles_without_go_list_and_gives_the_same_image(tmp_path, cache_dir):
    src = tmp_path / "app"
    shutil.copytree(FIXTURES / "hello-world", src)
    fast = Recording()
    quick = _build(src, cache_dir, tmp_path / "l1", fast)
    assert (fast.runs, fast.containers) == (["build"], 1)  # no download step, no go list
    slow = Recording()
    long_way = _build(src, cache_dir, tmp_path / "l2", slow, source="./...")  # a pattern: go list first
    assert (slow.runs, slow.containers) == (["list", "build"], 1)
    assert quick.digest == long_way.digest


class ArchiveOut(Recording):
    """Replaces what `go build` wrote with an ar archive, as it writes for a non-main package."""

    def run(self, argv, **kw):
        result = super().run(argv, **kw)
        if result.ok and (host := compiled_binary(argv)) is not None:
            host.write_bytes(b"!<arch>\n")
        return result


def test_a_compile_that_made_no_executable_is_refused_after_go_list_confirms(tmp_path, cache_dir):
    runner = ArchiveOut()
    with pytest.raises(SourceError, match="^go build of example.com/hello-world made no executable$"):
        _build(FIXTURES / "hello-world", cache_dir, tmp_path / "l", runner)
    assert runner.runs == ["build", "list"]
    assert not (tmp_path / "l").exists()


def test_a_single_directory_that_is_not_a_command_goes_to_go_list_first(tmp_path, cache_dir):
    src = tmp_path / "lib"
    src.mkdir()
    (src / "go.mod").write_text("module example.com/lib\n\ngo 1.21\n")
    (src / "lib.go").write_text("package lib\n\nfunc F() int { return 1 }\n")
    runner = Recording()
    with pytest.raises(SourceError) as err:
        _build(src, cache_dir, tmp_path / "l", runner)
    assert err.value.args == ("example.com/lib is not a main package (package lib)",)
    assert runner.runs == ["list"]


def test_a_compile_error_in_a_single_directory_is_the_compilers(tmp_path, cache_dir):
    src = tmp_path / "app"
    shutil.copytree(FIXTURES / "hello-world", src)
    main = src / "main.go"
    main.write_text(main.read_text() + "\nvar broken int = \"text\"\n")
    runner = Recording()
    with pytest.raises(CompileError, match="go build failed for linux/") as err:
        _build(src, cache_dir, tmp_path / "l", runner)
    assert "main.go" in str(err.value)
    assert runner.runs[:2] == ["build", "list"]


@pytest.mark.parametrize("gomod,expected", [
    ("module example.com/app\n\ngo 1.21\n", "example.com/app"),
    ('// a comment\nmodule "example.com/quoted" // trailing\n', "example.com/quoted"),
    ("go 1.21\n", ""),
    ("module\n", ""),
])
def test_module_path_from_go_mod(tmp_path, gomod, expected):
    (tmp_path / "go.mod").write_text(gomod)
    assert module_path(tmp_path) == expected
