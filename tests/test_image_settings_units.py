"""The image settings, SBOM and signing options as BuildSpec checks them, without a build: every
rule refuses the bad value naming it, and accepts the good one beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from leango.builder.errors import SpecError
from leango.builder.platform import host_platform
from leango.builder.spec import Attestations, BuildSpec, ImageSettings, PushOptions, check_data_link, parse_pairs
from leango.oci import parse_reference


def _refused(message: str, **kw) -> SpecError:
    with pytest.raises(SpecError) as info:
        ImageSettings(**kw)
    assert str(info.value) == message
    return info.value


def test_runtime_env_names():
    assert ImageSettings(runtime_env=(("A_1", "x"), ("_b", ""))).runtime_env == (("A_1", "x"), ("_b", ""))
    _refused("invalid --runtime-env name '1A'", runtime_env=(("1A", "x"),))
    _refused("invalid --runtime-env name 'A-B'", runtime_env=(("A-B", "x"),))


@pytest.mark.parametrize("field,flag", [("labels", "--label"), ("annotations", "--annotation"),
                                        ("index_annotations", "--annotation index:")])
def test_label_and_annotation_keys(field, flag):
    assert getattr(ImageSettings(**{field: (("org.example.key", ""),)}), field) == (("org.example.key", ""),)
    for key in ("", " key", "key "):
        _refused(f"{flag} {key!r}: a key must be non-empty, without surrounding spaces", **{field: ((key, "v"),)})


def test_exposed_ports_are_normalised_and_bounded():
    settings = ImageSettings(expose=("8080", "53/UDP", "8080/tcp", "1", "65535/sctp", "0443"))
    assert settings.expose == ("8080/tcp", "53/udp", "1/tcp", "65535/sctp", "443/tcp")
    for port in ("0", "65536", "http", "80/icmp", "80/", "/tcp", "123456"):
        _refused(f"--expose {port!r}: expected PORT[/tcp|udp|sctp], PORT 1-65535", expose=(port,))


def test_workdir_and_stop_signal():
    assert ImageSettings(workdir="/srv", stop_signal="SIGRTMIN+3").workdir == "/srv"
    assert ImageSettings(stop_signal="9").stop_signal == "9"
    _refused("--workdir 'srv' must be an absolute path", workdir="srv")
    for signal in ("int", "sigint", "123", "SIG INT"):
        _refused(f"--stop-signal {signal!r}: a signal name such as SIGINT, or a number", stop_signal=signal)


def test_data_directories_and_their_links(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_text("a")
    (data / "sub" / "up").symlink_to("../a.txt")  # inside: kept
    (data / "sub" / "same").symlink_to("../sub/../a.txt")
    assert ImageSettings(data_dir=data).extra_layer
    assert check_data_link(data, data / "sub" / "up") == "../a.txt"
    file = tmp_path / "file"
    file.write_text("x")
    _refused(f"--data {file}: not a directory", data_dir=file)
    for name, target in (("out", "../../outside"), ("abs", str(tmp_path / "outside")), ("dots", "..")):
        link = data / name
        link.symlink_to(target)
        err = _refused(f"--data {data}: {name} links to {target}, outside the directory (data files may link "
                       "only to each other, with relative links)", data_dir=data)
        assert err.hint == "data files may link only to each other, with relative links"
        link.unlink()


def test_what_needs_an_extra_layer():
    assert not ImageSettings().extra_layer
    assert ImageSettings(zoneinfo=True).extra_layer


def test_the_key_names_every_setting(tmp_path):
    settings = ImageSettings(labels=(("l", "1"),), annotations=(("a", "2"),), index_annotations=(("i", "3"),),
                             runtime_env=(("E", "4"),), args=("--x",), workdir="/w", expose=("80",),
                             stop_signal="SIGTERM", data_dir=tmp_path, zoneinfo=True)
    assert settings.key() == {"labels": (("l", "1"),), "annotations": (("a", "2"),), "index_annotations": (("i", "3"),),
                              "runtime_env": (("E", "4"),), "args": ("--x",), "workdir": "/w", "expose": ("80/tcp",),
                              "stop_signal": "SIGTERM", "data_dir": str(tmp_path), "zoneinfo": True}
    assert ImageSettings().key()["data_dir"] == ""


def test_pairs_keep_their_order_and_the_last_value():
    assert parse_pairs("--label", ("b=1", "a=2=3", "b=4", "c=")) == (("b", "4"), ("a", "2=3"), ("c", ""))
    with pytest.raises(SpecError) as info:
        parse_pairs("--label", ("novalue",))
    assert str(info.value) == "--label 'novalue' is not KEY=VALUE"


def test_sbom_formats_and_what_is_attached():
    assert Attestations().any and Attestations(("cyclonedx",), provenance=True).sbom == ("cyclonedx",)
    assert Attestations((), provenance=True).any and not Attestations(()).any
    with pytest.raises(SpecError) as info:
        Attestations(("spdx", "xml"))
    assert str(info.value) == "unknown SBOM format 'xml' (choose spdx, cyclonedx or both)"


def test_signing_goes_with_a_push_or_a_local_output(tmp_path):
    base = {"sources": (".",), "cache_dir": tmp_path, "platforms": (host_platform(),)}
    signer = object()
    assert BuildSpec(**base, signer=signer).signer is signer  # a layout or an archive carries it
    pushed = BuildSpec(**base, signer=signer, references=(parse_reference("127.0.0.1:5000/a:v1"),),
                       push=PushOptions())
    assert pushed.signer is signer
    assert Path(str(pushed.cache_dir)) == tmp_path


def test_defaults_go_to_manifest_and_index_where_the_command_line_set_no_such_key():
    settings = ImageSettings(annotations=(("org.opencontainers.image.version", "cli"),),
                             index_annotations=(("a", "mine"),))
    found = (("org.opencontainers.image.version", "git"), ("org.opencontainers.image.revision", "abc"), ("a", "b"))
    merged = settings.with_defaults(found)
    assert merged.annotations == (("org.opencontainers.image.revision", "abc"), ("a", "b"),
                                  ("org.opencontainers.image.version", "cli"))
    assert merged.index_annotations == (("org.opencontainers.image.version", "git"),
                                        ("org.opencontainers.image.revision", "abc"), ("a", "mine"))
    assert settings.with_defaults(()) == settings
    assert merged.labels == settings.labels and merged.args == settings.args


def test_the_default_cache_directory_follows_xdg(tmp_path):
    from leango.builder.spec import default_cache_dir
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "leango"
    assert default_cache_dir({"XDG_CACHE_HOME": ""}) == Path.home() / ".cache" / "leango"
    assert default_cache_dir({}) == Path.home() / ".cache" / "leango"
