import pytest

from leango.builder.errors import SpecError
from leango.builder.platform import elf_machine, go_env, host_platform, parse_platform
from leango.oci import Platform


@pytest.mark.parametrize("text,expected,env", [
    ("linux/amd64", Platform("linux", "amd64"), {"GOOS": "linux", "GOARCH": "amd64", "GOAMD64": "v1"}),
    ("linux/amd64/v3", Platform("linux", "amd64", "v3"), {"GOOS": "linux", "GOARCH": "amd64", "GOAMD64": "v3"}),
    ("linux/arm64/v8", Platform("linux", "arm64"), {"GOOS": "linux", "GOARCH": "arm64"}),
    ("linux/arm", Platform("linux", "arm", "v7"), {"GOOS": "linux", "GOARCH": "arm", "GOARM": "7"}),
    ("Linux/ARM/v6", Platform("linux", "arm", "v6"), {"GOOS": "linux", "GOARCH": "arm", "GOARM": "6"}),
    ("linux/riscv64", Platform("linux", "riscv64"), {"GOOS": "linux", "GOARCH": "riscv64"}),
])
def test_parse_and_go_env(text, expected, env):
    platform = parse_platform(text)
    assert platform == expected and go_env(platform) == env


@pytest.mark.parametrize("bad", ["linux", "windows/amd64", "linux/sparc", "linux/arm64/v9",
                                 "linux/amd64/v5", "linux//", "darwin/arm64"])
def test_unknown_platforms(bad):
    with pytest.raises(SpecError) as err:
        parse_platform(bad)
    assert str(err.value)


def test_elf_machines_and_host():
    assert elf_machine(parse_platform("linux/amd64")) == 62
    assert elf_machine(parse_platform("linux/arm64")) == 183
    assert host_platform().os == "linux"


@pytest.mark.parametrize("text,expected", [
    ("Linux/X86_64", "linux/amd64"), ("linux/aarch64", "linux/arm64"), ("linux/arm64/v8", "linux/arm64"),
    ("linux/arm", "linux/arm/v7"), ("linux/armhf", "linux/arm/v7"), ("linux/armel", "linux/arm/v6"),
    ("linux/i386", "linux/386"), ("windows/amd64", "windows/amd64"), ("linux/arm/v6", "linux/arm/v6"),
])
def test_one_parser_normalises_as_containerd_does(text, expected):
    """The oci parser takes any platform; the builder's adds only which it can build for."""
    assert str(Platform.parse(text)) == expected
    if expected.startswith("linux/"):
        assert parse_platform(text) == Platform.parse(text)


def test_the_builder_refuses_what_it_cannot_build_after_parsing():
    assert str(Platform.parse("windows/amd64")) == "windows/amd64"
    with pytest.raises(SpecError, match="unsupported platform 'windows/amd64'"):
        parse_platform("windows/amd64")
