"""leango sbom: SPDX 2.3 and CycloneDX 1.6 from a Go image's own bytes, valid by the reference
tools, listing the modules an independent scanner (syft) finds in the same binary."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from leango.oci import Platform
from leango.oci.sinks.layout import write_layout
from support.cli import leango
from support.tools import go_module_file, require_go_tool


def _sbom(src: str, *extra: str, check: bool = True):
    proc = leango("sbom", src, *extra, check=check)
    return json.loads(proc.stdout) if check else proc


@pytest.fixture(scope="module")
def oras_image(tmp_path_factory):
    """An image whose entrypoint is a real Go program with two dozen modules leango did not build."""
    import certifi

    from leango.builder.containerize import AppBinary, BaseOptions, containerize
    tmp = tmp_path_factory.mktemp("oras-image")
    binary = Path(require_go_tool("oras"))
    image = containerize([AppBinary("oras", binary, Platform("linux", "amd64"))],
                         BaseOptions(Path(certifi.where()).read_bytes()), tmp / "work")
    write_layout(tmp / "layout", image, ["v1"])
    return tmp / "layout", binary


def _syft_modules(binary: Path) -> set[tuple[str, str, str]]:
    out = subprocess.run([require_go_tool("syft"), "scan", f"file:{binary}", "-o", "syft-json", "-q"],
                         capture_output=True, text=True, check=True).stdout
    return {(a["name"], a["version"], a["purl"]) for a in json.loads(out)["artifacts"] if a["type"] == "go-module"}


def test_the_modules_are_what_syft_finds_in_the_same_binary(oras_image):
    layout, binary = oras_image
    expected = _syft_modules(binary)
    assert len(expected) >= 20  # a real program, not hello-world
    spdx = _sbom(f"oci:{layout}:v1")
    listed = {(p["name"], p["versionInfo"], p["externalRefs"][0]["referenceLocator"])
              for p in spdx["packages"] if p.get("primaryPackagePurpose") in ("APPLICATION", "LIBRARY")}
    assert listed == expected
    cdx = _sbom(f"oci:{layout}:v1", "--format", "cyclonedx")
    components = {(c["name"], c["version"], c["purl"]) for c in cdx["components"] if c["type"] != "file"}
    assert components == expected


def test_both_formats_pass_the_reference_validators(oras_image, tmp_path):
    layout, _ = oras_image
    leango("sbom", f"oci:{layout}:v1", "-o", tmp_path / "s.spdx.json")
    checked = subprocess.run([str(Path(__import__("sys").executable).parent / "pyspdxtools"), "-i",
                              str(tmp_path / "s.spdx.json")], capture_output=True, text=True)
    assert checked.returncode == 0 and "invalid" not in checked.stderr, checked.stderr
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
    cdx = leango("sbom", f"oci:{layout}:v1", "--format", "cyclonedx").stdout
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(cdx) is None
    # The validators can fail: a document without its required fields is refused by both.
    broken = json.loads((tmp_path / "s.spdx.json").read_text())
    del broken["documentNamespace"]
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    refused = subprocess.run([str(Path(__import__("sys").executable).parent / "pyspdxtools"), "-i",
                              str(tmp_path / "broken.json")], capture_output=True, text=True)
    assert refused.returncode != 0 or "invalid" in refused.stderr.lower()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(cdx.replace('"bomFormat"', '"bomFormatX"'))


def test_spdx_follows_the_official_json_schema(oras_image, tmp_path):
    """The SPDX 2.3 JSON schema (spdx-spec's, as syft v1.57.2 ships it) accepts leango's document
    and refuses one with a required field missing or of the wrong type."""
    import jsonschema
    schema = json.loads(go_module_file("github.com/anchore/syft", "v1.57.2",
                                       "schema/spdx-json/spdx-schema-2.3.json").read_text())
    assert schema["$id"] == "http://spdx.org/rdf/terms/2.3"
    layout, _ = oras_image
    doc = _sbom(f"oci:{layout}:v1")
    jsonschema.validate(doc, schema)  # raises on the first problem
    for broken in ({k: v for k, v in doc.items() if k != "spdxVersion"}, {**doc, "packages": "none"},
                   {**doc, "creationInfo": {"creators": doc["creationInfo"]["creators"]}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)


def test_the_same_image_gives_the_same_bytes_and_lists_its_files(hello, tmp_path):
    first = leango("sbom", f"oci:{hello.layout}").stdout
    assert leango("sbom", f"oci-archive:{hello.archive}").stdout == first  # the same image, another output
    doc = json.loads(first)
    assert doc["documentNamespace"].endswith(hello.result["digest"].split(":")[1])
    files = {f["fileName"]: f for f in doc["files"]}
    assert set(files) >= {"./hello-world", "./etc/ssl/certs/ca-certificates.crt", "./etc/passwd", "./etc/group"}
    main = next(p for p in doc["packages"] if p.get("primaryPackagePurpose") == "APPLICATION")
    assert main["name"] == "example.com/hello-world" and "GOOS=linux" in main["comment"]
    assert "-trimpath=true" in main["comment"]


def test_an_index_needs_a_platform_and_a_non_go_entrypoint_is_refused(index_layout, tmp_path, make_image):
    layout, _ = index_layout
    proc = _sbom(f"oci:{layout}", check=False)
    assert proc.returncode == 1 and "pick one with --platform" in proc.stderr
    arm = _sbom(f"oci:{layout}", "--platform", "linux/arm64", "--format", "cyclonedx")
    assert "arch=arm64" in arm["metadata"]["component"]["purl"]
    write_layout(tmp_path / "true", make_image(binary=Path("/bin/true")), ["v1"])
    proc = _sbom(f"oci:{tmp_path / 'true'}:v1", check=False)
    assert proc.returncode == 1 and "carries no Go build information" in proc.stderr
