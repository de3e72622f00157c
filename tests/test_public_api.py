"""The public surface is small and pinned (design principle 5)."""

import builder
import oci


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
        "NotStaticError", "Outputs", "Result", "Runner", "SourceError", "SpecError",
        "SubprocessRunner", "ToolchainError", "__version__", "build"])
    assert all(hasattr(builder, name) for name in builder.__all__)


def test_oci_does_not_import_builder_or_click():
    import subprocess
    import sys
    code = ("import sys, oci, oci.sinks.layout, oci.sinks.archive, oci.sinks.docker_archive, oci.validate;"
            "bad=[m for m in sys.modules if m.split('.')[0] in ('builder','click')]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
