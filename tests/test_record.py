"""The no-change record without a container: what the key sees, what it refuses to fingerprint,
and a record that reads back into the same images (or into nothing when anything is off)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from leango.builder import record
from leango.builder.containerize import AppBinary, BaseOptions, image_config
from leango.builder.gocache import RemoteCache
from leango.builder.goenv import GoEnv
from leango.builder.platform import host_platform
from leango.builder.source import ModuleSources
from leango.builder.spec import BuildSpec, ImageSettings, Outputs
from leango.builder.toolchain import Toolchain
from leango.oci import Image, Index, Platform, parse_reference
from leango.oci.layer import build_layer
from leango.oci.tarfs import bytes_entry

AMD64, ARM64 = Platform("linux", "amd64"), Platform("linux", "arm64")


@pytest.fixture
def world(tmp_path):
    """A module, a toolchain and a cache directory, all small."""
    module = tmp_path / "src" / "mod"
    (module / "cmd").mkdir(parents=True)
    (module / "go.mod").write_text("module example.com/m\n")
    (module / "cmd" / "main.go").write_text("package main\nfunc main() {}\n")
    goroot = tmp_path / "goroot"
    (goroot / "bin").mkdir(parents=True)
    (goroot / "VERSION").write_text("go1.99\n")
    (goroot / "bin" / "go").write_text("#!/bin/sh\n")
    cache = tmp_path / "cache"
    cache.mkdir()
    return dataclasses.make_dataclass("World", ["module", "goroot", "cache"])(module, goroot, cache)


def _key(w, spec=None, sources=None, go=None, base=None):
    spec = spec or BuildSpec(sources=(str(w.module),), cache_dir=w.cache, platforms=(AMD64,))
    sources = sources or ModuleSources(w.module, (".",))
    return record.input_key(spec, sources, Toolchain(w.goroot, "go1.99"), go or GoEnv((("GOFLAGS", ""),)),
                            base or BaseOptions(b"CA"))


def _spec(w, **kw):
    return BuildSpec(**({"sources": (str(w.module),), "cache_dir": w.cache, "platforms": (AMD64,)} | kw))


def test_same_inputs_same_key_and_it_is_a_sha256(world):
    first = _key(world)
    assert first is not None and len(first) == 64 and int(first, 16) >= 0
    assert _key(world) == first


@pytest.mark.parametrize("change", [
    {"platforms": (AMD64, ARM64)}, {"ldflags": "-X main.v=1"}, {"build_tags": ("netgo",)},
    {"env": (("GOEXPERIMENT", "loopvar"),)}, {"binary_name": "other"}, {"offline": True}, {"user": "1000:1000"},
    {"image": ImageSettings(labels=(("a", "b"),))}, {"image": ImageSettings(zoneinfo=True)},
    {"remote_cache": RemoteCache(cache_from=(parse_reference("127.0.0.1:5000/cache:main"),))},
], ids=lambda c: next(iter(c)))
def test_every_option_that_shapes_the_image_changes_the_key(world, change):
    assert _key(world, spec=_spec(world, **change)) != _key(world)


def test_options_outside_the_spec_change_the_key(world, tmp_path):
    plain = _key(world)
    assert _key(world, spec=_spec(world, platforms=(ARM64,))) != plain
    caches = [RemoteCache(cache_from=(parse_reference(f"127.0.0.1:5000/cache:{t}"),)) for t in ("a", "b")]
    assert _key(world, spec=_spec(world, remote_cache=caches[0])) != _key(world, spec=_spec(world, remote_cache=caches[1]))
    import shutil
    moved = tmp_path / "goroot-copy"
    shutil.copytree(world.goroot, moved, symlinks=True)
    assert record.input_key(_spec(world), ModuleSources(world.module, (".",)), Toolchain(moved, "go1.99"),
                            GoEnv((("GOFLAGS", ""),)), BaseOptions(b"CA")) != plain
    assert _key(world, base=BaseOptions(b"other CA")) != plain
    assert _key(world, base=BaseOptions(b"CA", compression="zstd")) != plain
    assert _key(world, base=BaseOptions(b"CA", mtime=1)) != plain
    assert _key(world, go=GoEnv((("GOFLAGS", "-mod=vendor"),))) != plain
    assert _key(world, sources=ModuleSources(world.module, ("./cmd",))) != plain
    assert _key(world, sources=ModuleSources(world.module, (".",), tree_root=world.module.parent)) != plain
    changed = Toolchain(world.goroot, "go1.98")
    assert record.input_key(_spec(world), ModuleSources(world.module, (".",)), changed, GoEnv((("GOFLAGS", ""),)),
                            BaseOptions(b"CA")) != plain


def test_a_different_toolchain_file_changes_the_key(world):
    plain = _key(world)
    (world.goroot / "go.env").write_text("GOTOOLCHAIN=local\n")
    assert _key(world) != plain


def test_module_files_content_mode_names_and_additions_change_the_key(world):
    main = world.module / "cmd" / "main.go"
    keys = {_key(world)}
    main.write_text("package main\nfunc main() { println() }\n")
    keys.add(_key(world))
    main.chmod(0o755)
    keys.add(_key(world))
    main.rename(world.module / "cmd" / "app.go")
    keys.add(_key(world))
    (world.module / "embed.txt").write_text("x")
    keys.add(_key(world))
    # The same content under a name in a subdirectory is not the same tree.
    (world.module / "embed.txt").unlink()
    (world.module / "sub").mkdir()
    (world.module / "sub" / "embed.txt").write_text("x")
    keys.add(_key(world))
    assert len(keys) == 6


def test_empty_directories_and_vcs_metadata_do_not_count(world):
    plain = _key(world)
    (world.module / "empty").mkdir()
    for vcs in (".git", ".hg", ".svn"):
        (world.module / vcs).mkdir()
        (world.module / vcs / "index").write_text("changes on every commit")
    assert _key(world) == plain
    (world.module / "notvcs").mkdir()
    (world.module / "notvcs" / "index").write_text("changes on every commit")
    assert _key(world) != plain


def test_only_this_builds_outputs_are_left_out(world):
    out = world.module / "leango-out"
    spec = _spec(world, outputs=Outputs(oci_layout=out / "layout", oci_archive=out / "{binary}.tar"))
    plain = _key(world, spec=spec)
    out.mkdir()
    (out / "layout").mkdir()
    (out / "layout" / "index.json").write_text("{}")
    (out / "m.tar").write_text("archive")
    (out / "other.tar").write_text("archive")  # any name the template can take
    assert _key(world, spec=spec) == plain
    (out / "m.tar.bak").write_text("not an output")  # the template matches whole names only
    assert _key(world, spec=spec) != plain
    (out / "m.tar.bak").unlink()
    (out / "sub").mkdir()
    (out / "sub" / "m.tar").write_text("not an output: {binary} is one path segment")
    assert _key(world, spec=spec) != plain


def test_a_leango_out_directory_that_is_not_an_output_counts(world):
    plain = _key(world)
    (world.module / "assets" / "leango-out").mkdir(parents=True)
    (world.module / "assets" / "leango-out" / "data.txt").write_text("go:embed reads this")
    assert _key(world) != plain
    tarball = world.module / "image.tar"
    tarball.write_text("an output")
    assert _key(world, spec=_spec(world, outputs=Outputs(tarball=tarball))) == \
        _key(world, spec=_spec(world, outputs=Outputs(tarball=tarball)))
    with_tar = _key(world, spec=_spec(world, outputs=Outputs(tarball=tarball)))
    tarball.write_text("rewritten output")
    assert _key(world, spec=_spec(world, outputs=Outputs(tarball=tarball))) == with_tar
    assert _key(world) != _key(world, spec=_spec(world, outputs=Outputs(tarball=tarball)))


def test_symlinks_count_by_target_and_content(world):
    (world.module / "data.txt").write_text("one")
    (world.module / "other.txt").write_text("two")
    link = world.module / "link.txt"
    link.symlink_to("data.txt")
    keys = {_key(world)}
    (world.module / "data.txt").write_text("changed")  # the content behind the link…
    (world.module / "other.txt").write_text("changed")  # …same bytes as the other file
    keys.add(_key(world))
    link.unlink()
    link.symlink_to("other.txt")  # same content, another target
    keys.add(_key(world))
    (world.module / "other.txt").chmod(0o755)  # the mode of what it leads to
    keys.add(_key(world))
    assert len(keys) == 4


def test_a_dangling_link_is_fingerprinted_by_its_target(world):
    link = world.module / "gone"
    link.symlink_to("missing-1")
    first = _key(world)
    assert first is not None and _key(world) == first
    link.unlink()
    link.symlink_to("missing-2")
    assert _key(world) not in (None, first)


def test_linked_directories_are_walked_once_and_cycles_end(world):
    shared = world.module / "shared"
    shared.mkdir()
    (shared / "a.txt").write_text("a")
    (world.module / "alias").symlink_to("shared")
    (shared / "loop").symlink_to("..")
    first = _key(world)
    assert first is not None
    (shared / "a.txt").write_text("b")
    assert _key(world) != first


class _Lines:
    """A stand-in for the hash: the lines the key is made of."""

    def __init__(self):
        self.lines: list[str] = []

    def update(self, data: bytes) -> None:
        self.lines.append(data.decode())


def test_the_tree_fingerprint_lines(world, monkeypatch):
    monkeypatch.setattr(record, "file_digest", lambda path: f"<{Path(path).name}>")
    (world.module / "cmd" / "main.go").chmod(0o755)
    (world.module / "cmd" / "run").symlink_to("main.go")
    (world.module / "cmd" / "gone").symlink_to("nothing")
    (world.module / "again").symlink_to("cmd")  # a linked directory: walked once more, under its name…
    (world.module / "bis").symlink_to("cmd")  # …and only once
    (world.module / "self").symlink_to(".")  # the root is never walked twice
    h = _Lines()
    record._tree(h, world.module, record._Outputs(_spec(world)), world.module, set())
    assert h.lines == [
        "l again cmd dir\n", "l bis cmd dir\n", "f go.mod 0 <go.mod>\n", "l self . dir\n",
        "l cmd/gone nothing dangling\n", "f cmd/main.go 111 <main.go>\n", "l cmd/run main.go 111 <main.go>\n",
        "l again/gone nothing dangling\n", "f again/main.go 111 <main.go>\n", "l again/run main.go 111 <main.go>\n",
    ]


def test_a_link_leaving_the_mounted_tree_gives_no_key(world, tmp_path, caplog):
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    (world.module / "escape").symlink_to(outside)
    with caplog.at_level("DEBUG", logger="leango.builder.record"):
        assert _key(world) is None
    assert f"no build record: {world.module / 'escape'} links to {outside}, outside {world.module}" in caplog.messages
    # Inside a wider mounted tree (the repository root) the same link is fine.
    inside = world.module.parent / "sibling.txt"
    inside.write_text("x")
    (world.module / "escape").unlink()
    (world.module / "escape").symlink_to(inside)
    assert _key(world, sources=ModuleSources(world.module, (".",), tree_root=world.module.parent)) is not None
    assert _key(world) is None


def test_special_files_and_links_to_them_give_no_key(world, caplog):
    fifo = world.module / "pipe"
    os.mkfifo(fifo)
    caplog.set_level("DEBUG", logger="leango.builder.record")
    assert _key(world) is None
    assert f"{fifo} is not a regular file, directory or symlink" in caplog.text
    fifo.rename(world.module.parent / "pipe")
    assert _key(world) is not None
    (world.module / "to-pipe").symlink_to("../pipe")
    assert _key(world, sources=ModuleSources(world.module, (".",), tree_root=world.module.parent)) is None
    assert f"{world.module / 'to-pipe'} links to ../pipe, which is not a regular file or directory" in caplog.text


def test_an_unlistable_directory_gives_no_key(world, monkeypatch, caplog):
    real = os.scandir

    def refusing(path):
        if str(path).endswith("cmd"):
            raise PermissionError("denied")
        return real(path)
    monkeypatch.setattr(record.os, "scandir", refusing)
    caplog.set_level("DEBUG", logger="leango.builder.record")
    assert _key(world) is None
    assert f"cannot list {world.module / 'cmd'}: denied" in caplog.text


def test_an_unreadable_file_gives_no_key(world, monkeypatch, caplog):
    def refusing(path):
        raise PermissionError("denied")
    monkeypatch.setattr(record, "file_digest", refusing)
    caplog.set_level("DEBUG", logger="leango.builder.record")
    assert _key(world) is None
    assert f"cannot read {world.module / 'go.mod'}: denied" in caplog.text


def test_an_unreadable_link_or_target_gives_no_key(world, monkeypatch, caplog):
    (world.module / "link").symlink_to("go.mod")
    assert _key(world) is not None
    caplog.set_level("DEBUG", logger="leango.builder.record")
    real_stat = os.stat
    monkeypatch.setattr(record.os, "stat", lambda p, **kw: (_ for _ in ()).throw(PermissionError("no")) if
                        Path(p).name == "go.mod" else real_stat(p, **kw))
    assert _key(world) is None
    assert f"cannot follow {world.module / 'link'}: no" in caplog.text
    monkeypatch.setattr(record.os, "readlink", lambda p: (_ for _ in ()).throw(OSError("gone")))
    assert _key(world) is None
    assert f"cannot read link {world.module / 'link'}: gone" in caplog.text


def test_replacements_outside_are_walked_with_their_own_bound_inside_once(world, tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "lib.go").write_text("package lib\n")
    inner = world.module / "internal-lib"
    inner.mkdir()
    (inner / "x.go").write_text("package x\n")
    sources = ModuleSources(world.module, (".",), replacements=((inner, "/src/internal-lib"), (lib, "/lib")))
    first = _key(world, sources=sources)
    assert first is not None
    (lib / "lib.go").write_text("package lib // changed\n")
    assert _key(world, sources=sources) != first
    # A link inside the outside replacement may point anywhere inside it, not beyond it.
    (lib / "self").symlink_to("lib.go")
    assert _key(world, sources=sources) is not None
    (lib / "up").symlink_to("../src/mod/go.mod")
    assert _key(world, sources=sources) is None


def test_a_relative_replacement_resolves_links_in_the_mounted_tree(world):
    lib = world.module.parent / "lib"
    lib.mkdir()
    (lib / "shared.go").symlink_to("../mod/go.mod")  # etcd-style: a link to a sibling directory
    sources = ModuleSources(world.module, (".",), replacements=((lib, "/src/lib"),), tree_root=world.module.parent)
    assert _key(world, sources=sources) is not None


def test_data_directory_files_and_names_count(world, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("a")
    spec = _spec(world, image=ImageSettings(data_dir=data))
    keys = {_key(world, spec=spec)}
    (data / "empty").mkdir()  # nothing to Go, but an entry in the image
    keys.add(_key(world, spec=spec))
    (data / "a.txt").write_text("b")
    keys.add(_key(world, spec=spec))
    (data / "empty").rmdir()
    (data / "empty").write_text("")  # the same name, now a file
    keys.add(_key(world, spec=spec))
    (data / "alias").symlink_to("a.txt")  # links inside it resolve inside it
    keys.add(_key(world, spec=spec))
    assert None not in keys and len(keys) == 5


def _image(w, platform, content: bytes) -> Image:
    layers = tuple(build_layer([bytes_entry(name, data)], w.cache / "layers")
                   for name, data in (("etc/ca", b"CA"), ("app", content)))
    binary = AppBinary("app", Path(), platform)
    spec = _spec(w)
    cfg = image_config(binary, [l.diff_id for l in layers], user=spec.user, created=spec.source_date_epoch,
                       settings=spec.image)
    return Image(cfg, layers, spec.image.annotations)


def test_a_saved_record_loads_the_same_images(world):
    single = _image(world, AMD64, b"one")
    both = Index((_image(world, AMD64, b"two"), _image(world, ARM64, b"three")), ())
    made = [record.RecordedImage("app", "./cmd/app", single), record.RecordedImage("app", "./cmd/other", both)]
    record.save(world.cache, "k" * 64, made)
    loaded = record.load(world.cache, "k" * 64, _spec(world), world.cache / "layers")
    assert loaded is not None
    assert [(r.binary, r.package) for r in loaded] == [("app", "./cmd/app"), ("app", "./cmd/other")]
    assert isinstance(loaded[0].artifact, Image) and isinstance(loaded[1].artifact, Index)
    assert loaded[0].artifact.digest == single.digest
    assert loaded[1].artifact.digest == both.digest
    assert [i.digest for i in loaded[1].artifact.images()] == [i.digest for i in both.images()]
    assert record.load(world.cache, "j" * 64, _spec(world), world.cache / "layers") is None


def test_a_record_loads_with_this_builds_image_settings(world):
    image = _image(world, AMD64, b"one")
    record.save(world.cache, "k" * 64, [record.RecordedImage("app", ".", image)])
    settings = ImageSettings(labels=(("l", "1"),), annotations=(("a", "2"),), index_annotations=(("i", "3"),))
    spec = _spec(world, image=settings)
    loaded = record.load(world.cache, "k" * 64, spec, world.cache / "layers")[0].artifact
    assert loaded.layers == image.layers  # the same blobs, where they are
    assert loaded.annotations == (("a", "2"),) and ("l", "1") in loaded.config.labels
    assert loaded.digest != image.digest
    both = Index((_image(world, AMD64, b"two"), _image(world, ARM64, b"three")), ())
    record.save(world.cache, "j" * 64, [record.RecordedImage("app", ".", both)])
    index = record.load(world.cache, "j" * 64, spec, world.cache / "layers")[0].artifact
    assert index.annotations == (("i", "3"),)


def test_a_record_whose_layers_are_gone_or_changed_loads_nothing(world, caplog):
    image = _image(world, AMD64, b"one")
    record.save(world.cache, "k" * 64, [record.RecordedImage("app", ".", image)])
    load = lambda: record.load(world.cache, "k" * 64, _spec(world), world.cache / "layers")
    assert load() is not None
    app = image.layers[1].path
    kept = app.read_bytes()
    app.write_bytes(kept + b"x")  # another size
    assert load() is None
    app.unlink()
    app.symlink_to(world.cache / "elsewhere")  # not a regular file
    (world.cache / "elsewhere").write_bytes(kept)
    assert load() is None
    app.unlink()
    caplog.set_level("DEBUG", logger="leango.builder.record")
    assert load() is None
    assert f"layer {image.layers[1].digest} is no longer in the cache" in caplog.text
    app.write_bytes(kept)
    assert load() is not None


@pytest.mark.parametrize("corrupt", [
    lambda doc: "not json",
    lambda doc: json.dumps({"builds": [{"binary": "app"}]}),
    lambda doc: json.dumps({"builds": [dict(doc["builds"][0], images=[{"platform": "linux", "layers": []}])]}),
    lambda doc: json.dumps({"builds": [dict(doc["builds"][0], images=[dict(doc["builds"][0]["images"][0],
                                                                         layers=[{"digest": "sha256:zz"}])])]}),
    lambda doc: json.dumps({"builds": 3}),
], ids=["json", "keys", "platform", "digest", "type"])
def test_a_damaged_record_loads_nothing(world, corrupt, caplog):
    record.save(world.cache, "k" * 64, [record.RecordedImage("app", ".", _image(world, AMD64, b"one"))])
    path = world.cache / "records" / f"{'k' * 64}.json"
    path.write_text(corrupt(json.loads(path.read_text())))
    with caplog.at_level("DEBUG", logger="leango.builder.record"):
        assert record.load(world.cache, "k" * 64, _spec(world), world.cache / "layers") is None
    assert [m for m in caplog.messages if m.startswith(f"ignoring build record {'k' * 64}.json: ")]


def test_the_record_file_holds_what_it_says(world):
    image = _image(world, AMD64, b"one")
    record.save(world.cache, "k" * 64, [record.RecordedImage("app", "./cmd", image)])
    doc = json.loads((world.cache / "records" / f"{'k' * 64}.json").read_text())
    assert doc == {"builds": [{"binary": "app", "package": "./cmd", "images": [{
        "platform": "linux/amd64",
        "layers": [{"mediaType": l.media_type, "digest": str(l.digest), "size": l.size, "diffID": str(l.diff_id)}
                   for l in image.layers]}]}]}
    assert host_platform() is not None
