"""What a build attaches to each image it made: SBOMs (builder/sbom.py) and SLSA provenance
(builder/provenance.py), as manifests whose subject is the image, for the sinks to write as
referrers. Both are read from the images themselves, so a build reused from its record attaches
the same bytes as the build that compiled it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..oci import Reference
from ..oci.manifest import Manifest
from . import provenance, sbom
from .buildinfo import BuildInfoError
from .toolprint import toolchain_digest

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .pipeline import Job
    from .record import RecordedImage


def attachments(job: Job, made: RecordedImage, references: Sequence[Reference]) -> list[Manifest]:
    attest = job.spec.attest
    if not attest.any:
        return []
    images = made.artifact.images()
    try:
        described = [sbom.describe(image, made.binary) for image in images]
    except (sbom.SbomError, BuildInfoError) as exc:
        if attest.local:  # asked for on the command line: a build that cannot give it fails
            raise
        # The default SBOM of a binary without Go build information (a toolchain before Go 1.18):
        # the image is pushed without it, and the log says why.
        log.warning("no SBOM attached to %s: %s", made.binary, exc)
        return []
    out = [sbom.attachment(d, fmt) for d in described for fmt in attest.sbom]
    if attest.provenance:
        out.append(_provenance(job, made, references, described, out))
    return out


def _provenance(job: Job, made: RecordedImage, references: Sequence[Reference],
                described: list[sbom.Described], sboms: list[Manifest]) -> Manifest:
    spec = job.spec.for_package(made.package)  # leango.toml's section for it, as it was built
    name = str(references[0]) if references else made.binary
    subjects = [(name, made.artifact.digest)]
    if len(described) > 1 or described[0].manifest.digest != made.artifact.digest:
        subjects += [(f"{name} {d.manifest.platform}", d.manifest.digest) for d in described]
    params = provenance.Parameters(
        packages=(made.package,), platforms=tuple(str(p) for p in spec.platforms),
        references=tuple(str(r) for r in references), ldflags=spec.ldflags, build_tags=spec.build_tags,
        env=spec.env, binary_name=made.binary, user=spec.user, source_date_epoch=spec.source_date_epoch,
        image={k: v for k, v in spec.image.key().items() if k != "data_dir"})
    byproducts = [(f"{m.artifact_type} of {m.subject.digest}", m.layers[0].descriptor)
                  for m in sboms if m.subject is not None]
    data = provenance.statement(subjects, params, job.git,
                                job.toolchain.version, toolchain_digest(job.toolchain.goroot, spec.cache_dir),
                                described, byproducts)
    return provenance.attachment(data, made.artifact.descriptor, described[0].created)
