"""leango resolve's YAML handling without a build: leango:// strings found with their file and
line, replaced keeping comments, order, quoting and documents; import paths mapped to packages of
the module (both sides of each rule). The build and push run in tests/e2e/test_resolve.py."""

from __future__ import annotations

import pytest

from leango.builder import resolve
from leango.builder.errors import SourceError, SpecError
from support.paths import FIXTURES

TEXT = """\
# the shop's deployment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api   # stays
spec:
  template:
    spec:
      containers:
        - name: api
          image: "leango://example.com/multi/cmd/api"
        - name: sidecar
          image: 'leango://example.com/multi/cmd/worker'
        - name: plain
          image: leango://example.com/multi/cmd/api
        - name: other
          image: docker.io/library/busybox:1.36   # not ours
---
images: [leango://example.com/multi/cmd/worker, "nginx:1"]
"""


def _resolved(text, mapping, name="deploy.yaml"):
    docs = resolve.load(name, text)
    found = resolve.references(name, docs)
    for f in found:
        f.replace(mapping[f.import_path])
    return found, resolve.dump(docs, text)


def test_strings_are_found_with_their_line_and_replaced_keeping_everything_else():
    api, worker = "r.example/shop/api@sha256:" + "a" * 64, "r.example/shop/worker@sha256:" + "b" * 64
    found, out = _resolved(TEXT, {"example.com/multi/cmd/api": api, "example.com/multi/cmd/worker": worker})
    assert [(f.import_path, f.where) for f in found] == [
        ("example.com/multi/cmd/api", "deploy.yaml:11"), ("example.com/multi/cmd/worker", "deploy.yaml:13"),
        ("example.com/multi/cmd/api", "deploy.yaml:15"), ("example.com/multi/cmd/worker", "deploy.yaml:19")]
    expected = (TEXT.replace('"leango://example.com/multi/cmd/api"', f'"{api}"')
                .replace("'leango://example.com/multi/cmd/worker'", f"'{worker}'")
                .replace("image: leango://example.com/multi/cmd/api", f"image: {api}")
                .replace("[leango://example.com/multi/cmd/worker,", f"[{worker},"))
    assert out == expected
    # Nothing to replace: the text comes back as it was.
    assert _resolved("a: 1  # one\nb: [x, 'y']\n", {})[1] == "a: 1  # one\nb: [x, 'y']\n"
    assert _resolved("---\nx: leango://m/p\n", {"m/p": "r/p@sha256:" + "c" * 64})[1] == \
        "---\nx: r/p@sha256:" + "c" * 64 + "\n"


def test_only_whole_strings_with_the_scheme_are_references():
    found, _ = _resolved("a: see leango://x/y\nb: LEANGO://x/y\nc: leango:/x\nd: {k: leango://m/q}\n",
                         {"m/q": "r@sha256:" + "d" * 64})
    assert [(f.import_path, f.where) for f in found] == [("m/q", "deploy.yaml:4")]


def test_invalid_yaml_names_the_input():
    with pytest.raises(SpecError) as info:
        resolve.load("bad.yaml", "a: [1, 2\nb: 3\n")
    assert str(info.value).startswith("bad.yaml: not valid YAML:")


def test_inputs_are_files_directories_and_stdin(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "b.yaml").write_text("b: 1\n")
    (tmp_path / "d" / "sub" / "a.yml").write_text("a: 1\n")
    (tmp_path / "d" / "notes.txt").write_text("not yaml")
    (tmp_path / "one.yaml").write_text("one: 1\n")
    got = resolve.inputs([str(tmp_path / "one.yaml"), str(tmp_path / "d"), "-"], lambda: "s: 1\n")
    assert got == [(str(tmp_path / "one.yaml"), "one: 1\n"), (str(tmp_path / "d" / "b.yaml"), "b: 1\n"),
                   (str(tmp_path / "d" / "sub" / "a.yml"), "a: 1\n"), ("<stdin>", "s: 1\n")]
    with pytest.raises(SpecError, match=r"^-f .*missing: no such file or directory$"):
        resolve.inputs([str(tmp_path / "missing")], lambda: "")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError, match=r"no \.yaml or \.yml file in the directory$"):
        resolve.inputs([str(tmp_path / "empty")], lambda: "")


def test_import_paths_map_to_packages_of_the_module_and_others_are_named():
    root = FIXTURES / "multi-cmd"
    found, _ = _resolved(TEXT, {"example.com/multi/cmd/api": "x", "example.com/multi/cmd/worker": "y"})
    assert resolve.package_dirs(found, root / "cmd") == {"example.com/multi/cmd/api": root / "cmd" / "api",
                                                        "example.com/multi/cmd/worker": root / "cmd" / "worker"}
    assert resolve.relative(root / "cmd" / "api", root) == "./cmd/api"
    assert resolve.relative(root / "cmd" / "api", root / "internal") == "../cmd/api"
    other, _ = _resolved("a: 1\nimage: leango://example.org/elsewhere/cmd\n", {"example.org/elsewhere/cmd": "z"})
    with pytest.raises(SourceError) as info:
        resolve.package_dirs(other, root)
    assert str(info.value).startswith("deploy.yaml:2: leango://example.org/elsewhere/cmd is not a package of "
                                      f"example.com/multi (the module of {root})")
    missing, _ = _resolved("image: leango://example.com/multi/cmd/gone\n", {"example.com/multi/cmd/gone": "z"})
    with pytest.raises(SourceError) as info:
        resolve.package_dirs(missing, root)
    assert str(info.value) == f"deploy.yaml:1: leango://example.com/multi/cmd/gone: no Go package at {root}/cmd/gone"


def test_pinned_references_keep_the_digest_not_the_tag():
    from leango.oci import parse_reference
    ref = parse_reference("r.example/shop/api:v1@sha256:" + "e" * 64)
    assert resolve.pinned({"m/api": ref}) == {"m/api": "r.example/shop/api@sha256:" + "e" * 64}


@pytest.mark.parametrize("text", [
    "a:\n- x\n- y\nb:\n  c: 1\n",                       # sequences at their key's column
    "a:\n    b:\n        - x\n        - {y: 1}\n",       # four spaces, dashes indented
    "spec:\n  containers:\n    - name: a\n      image: b\n",   # Kubernetes' own style
])
def test_indentation_comes_back_as_it_was(text):
    assert _resolved(text, {})[1] == text
