"""leango.toml: what it accepts, what it refuses (naming the line and the key), where it is found,
and how flags and the file combine."""

from __future__ import annotations

from pathlib import Path

import pytest

from leango.builder import config, template
from leango.builder.errors import SpecError
from leango.builder.spec import BuildSpec, ImageOverride, ImageSettings

GOOD = """\
# team settings
repository = "registry.example.com/team"
platforms = ["linux/amd64", "linux/arm64"]
labels = { "org.opencontainers.image.vendor" = "shop", team = "cart" }
ca-certs = ["certs/corp.pem"]
sbom = "spdx,cyclonedx"

[images."example.com/shop/cmd/cart"]
ldflags = "-X main.version={{ .Git.Tag }}"
runtime-env = { CART_MODE = "prod" }
args = ["--port=8080"]
data = "cmd/cart/static"
zoneinfo = true

[images.'example.com/shop/cmd/worker']
binary-name = "shop-worker"
env.GOEXPERIMENT = "loopvar"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "leango.toml"
    path.write_text(text)
    return path


def test_a_good_file_is_read_with_its_lines(tmp_path):
    cfg = config.load(write(tmp_path, GOOD))
    assert cfg.get("repository") == "registry.example.com/team"
    assert cfg.get("platforms") == ["linux/amd64", "linux/arm64"]
    assert cfg.get("ca-certs") == [tmp_path / "certs/corp.pem"]  # relative to the file
    assert cfg.get("missing", "x") == "x"
    assert [cfg.defaults[k].line for k in ("repository", "platforms", "labels", "ca-certs", "sbom")] == [2, 3, 4, 5, 6]
    cart = cfg.images["example.com/shop/cmd/cart"]
    assert {k: v.line for k, v in cart.items()} == {"ldflags": 9, "runtime-env": 10, "args": 11, "data": 12,
                                                     "zoneinfo": 13}
    assert cfg.where("ldflags", "example.com/shop/cmd/cart") == f"{tmp_path / 'leango.toml'}:9"
    worker = cfg.images["example.com/shop/cmd/worker"]
    assert {k: v.line for k, v in worker.items()} == {"binary-name": 16, "env": 17}
    assert dict(cfg.overrides()) == {
        "example.com/shop/cmd/cart": ImageOverride(
            ldflags="-X main.version={{ .Git.Tag }}", runtime_env=(("CART_MODE", "prod"),), args=("--port=8080",),
            data_dir=tmp_path / "cmd/cart/static", zoneinfo=True),
        "example.com/shop/cmd/worker": ImageOverride(binary_name="shop-worker", env=(("GOEXPERIMENT", "loopvar"),)),
    }


@pytest.mark.parametrize(("text", "said"), [
    ('repository = "r"\nplatform = ["linux/amd64"]\n', ":2: platform: unknown key"),
    ('platforms = "linux/amd64"\n', ":1: platforms: expected a list of strings, got a string"),
    ('provenance = "yes"\n', ":1: provenance: expected true or false, got a string"),
    ('labels = { a = 1 }\n', ":1: labels: expected a table of strings, got a table"),
    ('ldflags = "-X main.v={{ .Git.Branch }}"\n', ":1: ldflags: unknown template name {{ .Git.Branch }}"),
    ('ldflags = "-X main.v={{ .Git.Tag "\n', ":1: ldflags: an unclosed template action"),
    ('env = { GOFLAGS = "-mod=mod" }\n', ":1: env: GOFLAGS is not allowed: leango sets it"),
    ('runtime-env = { "A-B" = "x" }\n', ":1: runtime-env: invalid environment variable name 'A-B'"),
    ('\n[images."example.com/a"]\nargs = "--x"\n', ':3: [images."example.com/a"] args: expected a list of strings'),
    ('\n[images."example.com/a"]\n\nplatforms = ["x"]\n', ':4: [images."example.com/a"] platforms: unknown key'),
    ('images = 3\n', ':1: images: expected sections'),
    ('repository = \n', "Invalid value"),
])
def test_a_bad_file_is_refused_naming_line_and_key(tmp_path, text, said):
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        config.load(path)
    assert str(info.value).startswith(str(path)) and said in str(info.value), str(info.value)


def test_the_file_is_found_at_the_module_root(tmp_path):
    (tmp_path / "go.mod").write_text("module example.com/m\n")
    (tmp_path / "cmd" / "api").mkdir(parents=True)
    assert config.find(("./cmd/api",), tmp_path) is None  # no file: built-in defaults
    path = write(tmp_path, GOOD)
    for source in ("./cmd/api", "./cmd/...", ".", "cmd/api/"):
        assert config.find((source,), tmp_path) == path
    assert config.find((), tmp_path / "cmd") == path
    # a nested module's root stops the walk
    (tmp_path / "cmd" / "api" / "go.mod").write_text("module example.com/api\n")
    assert config.find(("./cmd/api",), tmp_path) is None


def test_flags_win_and_tables_merge(tmp_path):
    cfg = config.load(write(tmp_path, GOOD))
    params = {name: () for name in config.FLAG_KEYS} | {"repo": "", "user": "65532:65532", "sbom_formats": None,
                                                        "labels": ("team=platform", "extra=1")}
    given = {"labels"}
    out = config.apply(cfg, params, lambda n: n in given)
    assert out["repo"] == "registry.example.com/team" and out["platforms"] == ("linux/amd64", "linux/arm64")
    assert out["labels"] == ("org.opencontainers.image.vendor=shop", "team=platform", "extra=1")
    assert out["sbom_formats"] == "spdx,cyclonedx" and out["user"] == "65532:65532"
    given |= {"repo", "platforms"}
    out = config.apply(cfg, params | {"repo": "other.example/x", "platforms": ("linux/arm64",)}, lambda n: n in given)
    assert out["repo"] == "other.example/x" and out["platforms"] == ("linux/arm64",)
    # a per-image key whose flag was given is dropped; a table keeps the keys the flag did not name
    over = dict(cfg.overrides(lambda n: n in {"args"}, lambda n: {"CART_MODE"} if n == "runtime_env" else set()))
    cart = over["example.com/shop/cmd/cart"]
    assert cart.args is None and cart.runtime_env == () and cart.ldflags is not None


def test_a_section_applies_to_its_package_alone():
    spec = BuildSpec(ldflags="-X a=1", env=(("A", "1"),), image=ImageSettings(labels=(("team", "x"),), args=("run",)),
                     per_image=(("example.com/m/cmd/api", ImageOverride(
                         binary_name="shop-api", ldflags="-X b=2", env=(("B", "2"),), labels=(("team", "api"),),
                         zoneinfo=True)),))
    api = spec.for_package("example.com/m/cmd/api")
    assert (api.binary_name, api.ldflags, api.env) == ("shop-api", "-X b=2", (("A", "1"), ("B", "2")))
    assert api.image.labels == (("team", "api"),) and api.image.args == ("run",) and api.image.zoneinfo
    assert spec.for_package("example.com/m/cmd/worker") is spec
    assert spec.binary_names() == {"example.com/m/cmd/api": "shop-api"}


def test_template_check_knows_the_names_and_nothing_else():
    for good in ("{{ .Git.Tag }}", "{{.Env.HOME}}", "v{{ .Git.ShortCommit }}-{{ .Timestamp }}", "plain }}"):
        template.check(good, "k")
    for bad in ("{{ .Env }}", "{{ .Git.tag }}", "{{ .Version }}", "{{ .Date"):
        with pytest.raises(SpecError):
            template.check(bad, "k")


def test_values_print_as_toml():
    assert config.toml_value({"a": "x", "b.c": "y"}) == '{ a = "x", "b.c" = "y" }'
    assert config.toml_value(["a", True, Path("/p")]) == '["a", true, "/p"]'
    assert config.toml_value({}) == "{}" and config.toml_value(False) == "false"


def test_the_python_api_reads_the_file_when_asked(tmp_path):
    from leango.builder.api import spec_from
    (tmp_path / "go.mod").write_text("module example.com/shop\n")
    write(tmp_path, GOOD.replace('ca-certs = ["certs/corp.pem"]\n', ""))
    environ = {"HOME": str(tmp_path)}
    spec = spec_from("./cmd/cart", cwd=tmp_path, config=True, environ=environ, labels={"team": "api"})
    assert spec.repo == "registry.example.com/team" and [str(p) for p in spec.platforms] == ["linux/amd64",
                                                                                               "linux/arm64"]
    assert dict(spec.image.labels) == {"org.opencontainers.image.vendor": "shop", "team": "api"}  # the argument wins
    assert spec.attest.sbom == ("spdx", "cyclonedx")
    assert spec.override("example.com/shop/cmd/cart").args == ("--port=8080",)
    plain = spec_from("./cmd/cart", cwd=tmp_path, environ=environ)  # not asked: not read
    assert plain.repo == "" and plain.per_image == () and plain.attest.sbom == ("spdx",)
    assert spec_from("./cmd/cart", cwd=tmp_path, config=True, environ=environ | {"LEANGO_REPO": "r.example/x"},
                     ).repo == "r.example/x"
