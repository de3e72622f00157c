"""The public surface is small and pinned (what is not listed is not promised); the package is what users install."""

import importlib
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import leango
from leango import builder, oci


def test_leango_all():
    assert sorted(leango.__all__) == sorted([
        "BuildError", "BuildResult", "BuildSpec", "BuildahError", "CompileError", "Image", "Index",
        "Interrupted", "NotStaticError", "OciError", "Outputs", "Platform", "PushOptions", "Reference",
        "RegistryError", "Runner", "SourceError", "SpecError", "SubprocessRunner", "ToolchainError",
        "__version__", "build", "parse_reference", "spec_from"])
    assert all(hasattr(leango, name) for name in leango.__all__)


def test_oci_all():
    assert sorted(oci.__all__) == sorted([
        "ArchiveError", "Blob", "Descriptor", "Digest", "DigestError", "DigestMismatch",
        "History", "Image", "ImageConfig", "Index", "InvalidReference", "Layer", "LayoutError",
        "OciError", "Platform", "Reference", "RegistryError", "TarError", "build_layer",
        "parse_reference"])
    assert all(hasattr(oci, name) for name in oci.__all__)


def test_builder_all():
    assert sorted(builder.__all__) == sorted([
        "BuildError", "BuildResult", "BuildSpec", "BuildahError", "CompileError", "Interrupted",
        "NotStaticError", "Outputs", "PushOptions", "Result", "Runner", "SourceError", "SpecError",
        "SubprocessRunner", "ToolchainError", "build", "spec_from"])
    assert all(hasattr(builder, name) for name in builder.__all__)


def _python(code: str, cwd: Path) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=cwd)
    return out.stdout.strip()


def test_tests_run_against_the_installed_package(tmp_path):
    """Not the checkout: scripts/setup installs the wheel and pytest never puts the repo on sys.path."""
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert Path(leango.__file__).resolve().is_relative_to(site), leango.__file__
    assert Path(oci.__file__).resolve().is_relative_to(site), oci.__file__


def test_no_top_level_oci_or_builder(tmp_path):
    """`oci` is Oracle's SDK and `builder` is taken on PyPI: leango must own neither name."""
    out = _python("import importlib.util as u; print(u.find_spec('oci'), u.find_spec('builder'))", tmp_path)
    assert out == "None None"


def test_version_comes_from_the_distribution_metadata(tmp_path):
    from importlib.metadata import version

    from leango.oci.registry import transport
    assert leango.__version__ == version("leango") != "0+unknown"
    assert f"leango/{leango.__version__}" == transport.user_agent()
    cli = subprocess.run([str(Path(sys.executable).parent / "leango"), "--version"], capture_output=True,
                         text=True, check=True)
    assert cli.stdout.strip() == f"leango, version {leango.__version__}"


def test_python_dash_m_leango(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "leango", "--version"], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"leango, version {leango.__version__}"


def test_oci_does_not_import_builder_or_click(tmp_path):
    code = ("import sys, leango.oci, leango.oci.sinks.layout, leango.oci.sinks.archive, "
            "leango.oci.sinks.docker_archive, leango.oci.validate, leango.oci.registry.push;"
            "bad=[m for m in sys.modules if m.startswith('leango.builder') or m.split('.')[0] == 'click'];"
            "print(bad)")
    assert _python(code, tmp_path) == "[]"


def test_importing_the_library_changes_no_process_state(tmp_path):
    """No logging or warnings filters, atexit hooks or signal handlers installed by `import leango…`,
    nor by making and closing a transport (the SSL context lives in memory, no temp CA file)."""
    code = """
import atexit, logging, signal, warnings, tempfile, os
import requests, urllib3, click, zstandard, certifi  # third-party imports set their own defaults
before = (list(warnings.filters), signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT),
          atexit._ncallbacks(), sorted(os.listdir(tempfile.gettempdir())))
import leango, leango.builder, leango.oci.sinks, leango.oci.registry.push, leango.oci.validate
from leango.oci.registry.transport import RegistryOptions, Transport
from leango.oci.registry.credentials import Credential
Transport("registry.invalid", Credential(), RegistryOptions(insecure_hosts=("registry.invalid",))).close()
Transport("registry.invalid", Credential(), RegistryOptions(ca_file=certifi.where())).close()
after = (list(warnings.filters), signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT),
         atexit._ncallbacks(), sorted(os.listdir(tempfile.gettempdir())))
loggers = [n for n, l in logging.Logger.manager.loggerDict.items()
           if isinstance(l, logging.Logger) and n.startswith("leango")
           and (l.filters or l.handlers or l.level)]
loggers += [n for n in ("urllib3", "urllib3.connectionpool", "requests") if logging.getLogger(n).filters]
print(before == after, loggers)
"""
    env_tmp = tmp_path / "tmp"
    env_tmp.mkdir()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path,
                         env={"TMPDIR": str(env_tmp), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "True []", out.stdout + out.stderr


def test_the_version_is_read_from_the_installed_dist_info_without_importlib_metadata(tmp_path):
    from importlib.metadata import version

    _version = importlib.import_module("leango._version")
    site = Path(_version.__file__).resolve().parent.parent
    assert _version._from_dist_info(site) == version("leango")  # the fast path, as the wheel installs
    out = _python("import importlib, sys; importlib.import_module('leango._version').version(); "
                  "print('importlib.metadata' in sys.modules)", tmp_path)
    assert out == "False"


@pytest.mark.parametrize("infos,expected", [
    ({"leango-1.2.3.dist-info": "Metadata-Version: 2.1\nName: leango\nVersion: 1.2.3\n\nVersion: 9\n"}, "1.2.3"),
    ({"leango-1.dist-info": "Name: leango\n\nVersion: 9\n"}, ""),  # only the headers count
    ({"leango-1.dist-info": "Version: 1\n", "leango-2.dist-info": "Version: 2\n"}, ""),  # which one?
    ({"other-1.dist-info": "Version: 1\n"}, ""),
])
def test_dist_info_reading(tmp_path, infos, expected):
    _version = importlib.import_module("leango._version")
    for name, text in infos.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "METADATA").write_text(text)
    assert _version._from_dist_info(tmp_path) == expected


def test_the_keyword_form_makes_the_spec_the_command_line_makes(tmp_path):
    from pathlib import Path

    from leango.builder.platform import host_platform
    from leango.builder.spec import Attestations, Outputs
    environ = {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "SOURCE_DATE_EPOCH": "1700000000", "GOPROXY": "off",
               "HOME": str(tmp_path)}
    spec = leango.spec_from("./cmd/api", tags=["v1", "latest"], repo="registry.example/team", push=True,
                            platforms=["linux/arm64", "linux/amd64"], oci_archive=tmp_path / "a.tar",
                            ldflags="-X main.v=1", env={"CGO_CFLAGS": "-O2"}, labels={"a": "1"},
                            runtime_env={"MODE": "prod"}, args=["--port=8080"], provenance=True,
                            insecure_registries=["registry.example"], environ=environ)
    assert spec.sources == ("./cmd/api",) and spec.repo == "registry.example/team" and spec.tags == ("v1", "latest")
    assert [str(p) for p in spec.platforms] == ["linux/arm64", "linux/amd64"]
    assert spec.cache_dir == tmp_path / "xdg" / "leango" and spec.source_date_epoch == 1700000000
    assert spec.outputs == Outputs(oci_archive=tmp_path / "a.tar") and spec.push is not None
    assert spec.push.registry.insecure_hosts == ("registry.example",)
    assert (spec.ldflags, spec.env) == ("-X main.v=1", (("CGO_CFLAGS", "-O2"),))
    assert (spec.image.labels, spec.image.runtime_env, spec.image.args) == \
        ((("a", "1"),), (("MODE", "prod"),), ("--port=8080",))
    assert spec.attest == Attestations(("spdx",), True, local=True)
    assert dict(spec.go_environ)["GOPROXY"] == "off"
    # Full references without a repository; no output and no push: a layout in ./leango-out/<binary>.
    plain = leango.spec_from("app", tags=["r.example/app:v1"], environ=environ)
    assert [str(r) for r in plain.references] == ["r.example/app:v1"] and plain.push is None
    assert plain.outputs == Outputs(oci_layout=Path("leango-out") / "{binary}")
    assert plain.platforms == (host_platform(),) and plain.attest == Attestations()


def test_a_spec_has_the_command_line_s_defaults_and_takes_no_options(tmp_path, monkeypatch):
    from pathlib import Path

    from leango.builder.platform import host_platform
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    spec = leango.BuildSpec(outputs=leango.Outputs(oci_layout="out"))
    assert spec.sources == (".",) and spec.platforms == (host_platform(),)
    assert spec.cache_dir == tmp_path / "leango" and spec.outputs.oci_layout == Path("out")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert leango.BuildSpec().cache_dir == Path.home() / ".cache" / "leango"
    import pytest
    with pytest.raises(TypeError) as info:
        leango.build(spec, push=True, tags=["x"])
    assert str(info.value) == "build(BuildSpec) takes no options (given: push, tags); set them in the spec"
    with pytest.raises(TypeError):
        leango.spec_from(".", pushh=True)  # a misspelt option is an error, not ignored
