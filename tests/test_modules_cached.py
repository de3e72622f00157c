"""modules_cached: the download step is skipped only when go.mod requires nothing or every
module go.sum names is in the module cache; anything unclear means download."""

from __future__ import annotations

from leango.builder.gorun import modules_cached

GOMOD = "module example.com/app\n\ngo 1.21\n\nrequire github.com/Azure/go-x v1.2.0\n"
GOSUM = ("github.com/Azure/go-x v1.2.0 h1:abc=\n"
         "github.com/Azure/go-x v1.2.0/go.mod h1:def=\n"
         "golang.org/x/text v0.3.0/go.mod h1:ghi=\n")


def module(tmp_path, gomod=GOMOD, gosum=GOSUM):
    root = tmp_path / "app"
    root.mkdir()
    (root / "go.mod").write_text(gomod)
    if gosum is not None:
        (root / "go.sum").write_text(gosum)
    return root


def filled_cache(tmp_path):
    mod = tmp_path / "mod"
    (mod / "github.com" / "!azure" / "go-x@v1.2.0").mkdir(parents=True)  # upper case is !lower
    for path, version in (("github.com/!azure/go-x", "v1.2.0"), ("golang.org/x/text", "v0.3.0")):
        d = mod / "cache" / "download" / path / "@v"
        d.mkdir(parents=True)
        (d / f"{version}.mod").write_text("module x\n")
    return mod


def test_nothing_required_needs_no_download(tmp_path):
    assert modules_cached(module(tmp_path, "module example.com/app\n\ngo 1.21\n", None), tmp_path / "empty")


def test_every_module_in_the_cache_needs_no_download(tmp_path):
    assert modules_cached(module(tmp_path), filled_cache(tmp_path))


def test_a_missing_module_directory_means_download(tmp_path):
    mod = filled_cache(tmp_path)
    (mod / "github.com" / "!azure" / "go-x@v1.2.0").rmdir()
    assert not modules_cached(module(tmp_path), mod)


def test_a_missing_go_mod_file_means_download(tmp_path):
    mod = filled_cache(tmp_path)
    (mod / "cache" / "download" / "golang.org" / "x" / "text" / "@v" / "v0.3.0.mod").unlink()
    assert not modules_cached(module(tmp_path), mod)


def test_the_case_encoding_is_the_module_caches(tmp_path):
    mod = filled_cache(tmp_path)
    (mod / "github.com" / "!azure").rename(mod / "github.com" / "Azure")  # not how go stores it
    assert not modules_cached(module(tmp_path), mod)


def test_requires_without_go_sum_means_download(tmp_path):
    assert not modules_cached(module(tmp_path, gosum=None), filled_cache(tmp_path))


def test_an_empty_go_sum_means_download(tmp_path):
    assert not modules_cached(module(tmp_path, gosum=""), filled_cache(tmp_path))


def test_an_unreadable_or_odd_go_sum_line_means_download(tmp_path):
    mod = filled_cache(tmp_path)
    for i, line in enumerate(["github.com/Azure/go-x v1.2.0\n",  # two fields
                              "../../etc v1.0.0 h1:x=\n",  # a path that climbs
                              "github.com/a b/c v1.0.0 h1:x=\n"]):  # four fields
        root = tmp_path / f"case{i}"
        root.mkdir()
        assert not modules_cached(module(root, gosum=GOSUM + line), mod), line
