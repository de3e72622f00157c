"""leango.toml's per-package settings over the build's (ImageOverride), the outputs' coercions and
refusals, and BuildSpec.for_package: each field on its own, both ways (set and left as is)."""

from __future__ import annotations

from pathlib import Path

import pytest

from leango.builder.errors import SpecError
from leango.builder.spec import BuildSpec, ImageOverride, ImageSettings, Outputs
from leango.oci import Platform


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    base, mine = tmp_path_factory.mktemp("base-data"), tmp_path_factory.mktemp("mine")
    return base, mine


@pytest.fixture
def BASE(dirs):
    return ImageSettings(labels=(("a", "1"), ("b", "2")), annotations=(("x", "1"),), runtime_env=(("E", "base"),),
                         args=("--base",), data_dir=dirs[0], zoneinfo=True)


def test_an_empty_override_leaves_every_setting_as_it_is(BASE):
    assert ImageOverride().apply(BASE) == BASE


def test_tables_add_keys_and_their_values_win(BASE):
    over = ImageOverride(runtime_env=(("E", "mine"), ("F", "new")), labels=(("b", "two"), ("c", "3")),
                         annotations=(("y", "2"),))
    got = over.apply(BASE)
    assert got.runtime_env == (("E", "mine"), ("F", "new"))
    assert got.labels == (("a", "1"), ("b", "two"), ("c", "3"))
    assert got.annotations == (("x", "1"), ("y", "2"))
    assert (got.args, got.data_dir, got.zoneinfo) == (BASE.args, BASE.data_dir, BASE.zoneinfo)


@pytest.mark.parametrize("field,value", [("args", ()), ("args", ("--mine",)), ("data_dir", "mine"),
                                         ("zoneinfo", False)])
def test_a_scalar_replaces_even_when_empty_or_false(field, value, BASE, dirs):
    value = dirs[1] if value == "mine" else value
    got = ImageOverride(**{field: value}).apply(BASE)
    assert getattr(got, field) == value
    untouched = {"args", "data_dir", "zoneinfo"} - {field}
    assert all(getattr(got, f) == getattr(BASE, f) for f in untouched)


def test_the_key_names_every_setting():
    full = ImageOverride(binary_name="srv", ldflags="-X a=b", env=(("K", "v"),), runtime_env=(("E", "1"),),
                         labels=(("l", "2"),), annotations=(("n", "3"),), args=("--x",), data_dir=Path("/d"),
                         zoneinfo=False)
    assert full.key() == ["srv", "-X a=b", [["K", "v"]],
                          [[["E", "1"]], [["l", "2"]], [["n", "3"]], ["--x"], "/d", False]]
    assert ImageOverride().key() == [None, None, [], [[], [], [], None, None, None]]
    assert ImageOverride(args=()).image_key()[3] == []  # an empty Cmd is a setting, not "as is"


def test_for_package_applies_its_section_only():
    over = ImageOverride(binary_name="srv", ldflags="-s", env=(("K", "mine"),), labels=(("l", "x"),))
    spec = BuildSpec(sources=("./app",), cache_dir=Path("/c"), platforms=(Platform("linux", "amd64"),),
                     env=(("K", "base"), ("J", "1")), ldflags="-w", per_image=(("example.com/app", over),))
    mine = spec.for_package("example.com/app")
    assert (mine.binary_name, mine.ldflags, mine.env) == ("srv", "-s", (("K", "mine"), ("J", "1")))
    assert mine.image.labels == (("l", "x"),) and mine.per_image == ()
    assert spec.for_package("example.com/other") is spec
    keep = BuildSpec(sources=("./app",), cache_dir=Path("/c"), platforms=(Platform("linux", "amd64"),),
                     ldflags="-w", per_image=(("example.com/app", ImageOverride(ldflags="")),))
    assert keep.for_package("example.com/app").ldflags == ""  # "" in leango.toml clears the flags


def test_outputs_take_strings_as_paths_and_refuse_a_store_twice():
    out = Outputs(oci_layout="lay", oci_archive="a.tar", tarball="d.tar", load="podman")
    assert (out.oci_layout, out.oci_archive, out.tarball, out.load) == (Path("lay"), Path("a.tar"),
                                                                       Path("d.tar"), ("podman",))
    assert Outputs().oci_layout is None
    with pytest.raises(SpecError) as err:
        Outputs(load=("containerd", "containerd=other"))
    assert str(err.value) == "--load names one store twice (give podman and containerd at most once each)"
    assert Outputs(load=("containerd", "podman")).load == ("containerd", "podman")


def test_an_unknown_isolation_names_the_choices():
    from leango.builder.isolation import ISOLATIONS
    with pytest.raises(SpecError) as err:
        BuildSpec(sources=("./app",), cache_dir=Path("/c"), platforms=(Platform("linux", "amd64"),),
                  isolation="vm")
    assert str(err.value) == f"unknown isolation 'vm' (choose {', '.join(ISOLATIONS)})"
    assert BuildSpec(sources=("./app",), cache_dir=Path("/c"), platforms=(Platform("linux", "amd64"),),
                     isolation=ISOLATIONS[0]).isolation == ISOLATIONS[0]


def test_a_section_without_ldflags_keeps_the_builds():
    spec = BuildSpec(sources=("./app",), cache_dir=Path("/c"), platforms=(Platform("linux", "amd64"),),
                     ldflags="-w", per_image=(("example.com/app", ImageOverride(binary_name="srv")),))
    mine = spec.for_package("example.com/app")
    assert (mine.binary_name, mine.ldflags) == ("srv", "-w")
