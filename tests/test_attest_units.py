"""What a build attaches when the entrypoint carries no Go build information: the default SBOM is
left out with a warning; an SBOM asked for on the command line fails the build."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from leango.builder import attest
from leango.builder.buildinfo import BuildInfoError
from leango.builder.record import RecordedImage
from leango.builder.spec import Attestations


def _job(attestations):
    return SimpleNamespace(spec=SimpleNamespace(attest=attestations))


def test_the_default_sbom_of_a_binary_without_build_information_is_left_out(tmp_path, make_image, caplog):
    script = tmp_path / "app"
    script.write_bytes(b"#!/bin/sh\necho not go\n")
    made = RecordedImage("app", "./cmd/app", make_image(binary=script))
    with caplog.at_level(logging.WARNING, logger="leango.builder.attest"):
        assert attest.attachments(_job(Attestations()), made, []) == []
    assert [m for m in caplog.messages if m.startswith("no SBOM attached to app: ")]
    with pytest.raises(BuildInfoError):
        attest.attachments(_job(Attestations(local=True)), made, [])
    assert attest.attachments(_job(Attestations(())), made, []) == []  # none asked: nothing read


def test_a_go_binary_built_outside_a_module_gets_its_sbom(make_image):
    """gofmt, the toolchain's own command: no main module (a ValueError from packageurl before)."""
    import json
    made = RecordedImage("app", "./cmd/app", make_image())
    spdx, cdx = attest.attachments(_job(Attestations(("spdx", "cyclonedx"))), made, [])
    assert spdx.artifact_type == "application/spdx+json" and spdx.subject.digest == made.artifact.digest
    doc = json.loads(spdx.layers[0].open().read())
    main = next(p for p in doc["packages"] if p["SPDXID"] == "SPDXRef-Package-main")
    assert main["name"] == "cmd/gofmt"
    components = json.loads(cdx.layers[0].open().read())["components"]
    assert [c["name"] for c in components if c["type"] == "application"] == ["cmd/gofmt"]
