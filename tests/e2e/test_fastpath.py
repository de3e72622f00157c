"""The edit path: no download step when the module cache has every module, and the compile of
a single directory's package starting beside `go list` — the same image as the long way."""

from __future__ import annotations

import shutil
import time

import pytest

from leango.builder import BuildSpec, Outputs, SubprocessRunner, build
from leango.builder.platform import host_platform
from leango.builder.source import module_path
from support.paths import FIXTURES


class Recording(SubprocessRunner):
    """Records each `buildah run`: the go subcommand, when it started and when it ended
    (for ordering only, never as a duration)."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, float, float]] = []

    def run(self, argv, **kw):
        start = time.monotonic()
        result = super().run(argv, **kw)
        if list(argv[:2]) == ["buildah", "run"]:
            self.runs.append((argv[argv.index("--") + 2], start, time.monotonic()))
        return result

    def span(self, command: str) -> tuple[float, float]:
        (found,) = [(start, end) for name, start, end in self.runs if name == command]
        return found


def _build(src, cache, out, runner, source="."):
    spec = BuildSpec(sources=(source,), cwd=src, cache_dir=cache, platforms=(host_platform(),),
                     outputs=Outputs(oci_layout=out), reuse=False)
    return build(spec, runner)


def test_a_single_directory_compiles_beside_go_list_and_gives_the_same_image(tmp_path, cache_dir):
    src = tmp_path / "app"
    shutil.copytree(FIXTURES / "hello-world", src)
    fast = Recording()
    quick = _build(src, cache_dir, tmp_path / "l1", fast)
    assert sorted(name for name, _, _ in fast.runs) == ["build", "list"], fast.runs  # no download step
    assert fast.span("build")[0] < fast.span("list")[1], "the compile did not start before go list ended"
    slow = Recording()
    long_way = _build(src, cache_dir, tmp_path / "l2", slow, source="./...")  # a pattern: go list first
    assert sorted(name for name, _, _ in slow.runs) == ["build", "list"]
    assert slow.span("build")[0] >= slow.span("list")[1]
    assert quick.digest == long_way.digest


@pytest.mark.parametrize("gomod,expected", [
    ("module example.com/app\n\ngo 1.21\n", "example.com/app"),
    ('// a comment\nmodule "example.com/quoted" // trailing\n', "example.com/quoted"),
    ("go 1.21\n", ""),
    ("module\n", ""),
])
def test_module_path_from_go_mod(tmp_path, gomod, expected):
    (tmp_path / "go.mod").write_text(gomod)
    assert module_path(tmp_path) == expected
