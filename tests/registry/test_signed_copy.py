"""Signatures travel with the image (issue 18, part 4): cosign's sha256-<hex>.sig tag is written
beside the image in a registry, a layout and an oci-archive, `leango copy` carries it, a second
signer's signature is added to the tag and never replaces the first, and cosign itself verifies
the copy in another repository."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from leango.builder import sign
from leango.oci import parse_reference
from leango.oci.parsed import load
from leango.oci.referrers import Tagged
from leango.oci.registry.credentials import CredentialSources
from leango.oci.registry.transport import RegistryOptions
from leango.oci.sources import RegistrySource, attached
from support.cli import leango
from support.tools import require_go_tool


class Key:
    def __init__(self, directory, name):
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.path = directory / f"{name}.pem"
        self.path.write_bytes(self.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
        self.pub = directory / f"{name}.pub"
        self.pub.write_bytes(self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        self.signer = sign.load_key(self.path, lambda: b"")


@pytest.fixture
def keys(tmp_path):
    return Key(tmp_path, "ours"), Key(tmp_path, "theirs")


def _source(registry, name):
    return RegistrySource(parse_reference(f"{registry.host}/{name}"), CredentialSources(),
                          RegistryOptions(insecure_hosts=(registry.host,)))


def _signatures_in(source, digest, key) -> int:
    try:
        return sign.verified_signatures(source, digest, key.private.public_key())
    finally:
        source.close()


def _verify(location, key, *extra, check=True):
    proc = leango("verify", location, "--key", key.pub, "--json", *extra, check=check)
    return json.loads(proc.stdout) if check else proc


def test_a_signed_image_copies_with_its_signatures_everywhere(registry, make_image, do_push, keys, tmp_path):
    ours, theirs = keys
    image = make_image()
    digest = str(image.digest)
    host = registry.host
    do_push(image, [f"{host}/signed/app:v1"], referrers=sign.signatures(ours.signer, f"{host}/signed/app", image, []),
            options=RegistryOptions(insecure_hosts=(host,)))
    # A second signer pushes the same image: its signature joins ours under the tag.
    do_push(image, [f"{host}/signed/app:v1"],
            referrers=sign.signatures(theirs.signer, f"{host}/signed/app", image, []),
            options=RegistryOptions(insecure_hosts=(host,)))
    for key in keys:
        assert _signatures_in(_source(registry, "signed/app"), image.digest, key) == 1

    # Registry → another repository, → a layout, → an archive: each carries the tag, and
    # `leango verify --key` accepts each with either key.
    insecure = ("--insecure-registry", host)
    copied = json.loads(leango("copy", f"{host}/signed/app@{digest}", f"{host}/copied/app:v1", "--json",
                               *insecure).stdout)
    sig_digest = copied["referrers"]
    assert len(sig_digest) == 1
    leango("copy", f"{host}/signed/app@{digest}", f"oci:{tmp_path / 'layout'}:v1", *insecure)
    leango("copy", f"oci:{tmp_path / 'layout'}:v1", f"oci-archive:{tmp_path / 'a.tar'}:v1")
    for location in (f"{host}/copied/app@{digest}", f"oci:{tmp_path / 'layout'}:v1",
                     f"oci-archive:{tmp_path / 'a.tar'}:v1"):
        for key in keys:
            found = _verify(location, key, *insecure)
            assert found["signatures"] == {digest: {"signatures": 1, "attestations": []}}, location
    inspected = json.loads(leango("inspect", f"oci:{tmp_path / 'layout'}:v1", "--json").stdout)
    assert [r["tag"] for r in inspected["referrers"]] == [sign.signature_tag(image.digest)]

    # cosign, the reference verifier, accepts the copy in the other repository.
    cosign = require_go_tool("cosign")
    env = {**os.environ, "HOME": str(tmp_path), "TUF_ROOT": str(tmp_path / "tuf")}
    proc = subprocess.run([cosign, "verify", "--key", str(theirs.pub), "--insecure-ignore-tlog",
                           "--allow-http-registry", f"{host}/copied/app@{digest}"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr

    # Copied from the layout into a repository holding another signature already: both stay.
    third = Key(tmp_path, "third")
    do_push(image, [f"{host}/merged/app:v1"], referrers=sign.signatures(third.signer, f"{host}/x", image, []),
            options=RegistryOptions(insecure_hosts=(host,)))
    leango("copy", f"oci:{tmp_path / 'layout'}:v1", f"{host}/merged/app:v1", *insecure)
    for key in (*keys, third):
        assert _signatures_in(_source(registry, "merged/app"), image.digest, key) == 1
    # --no-referrers leaves the signatures behind, and verify --key says there is none.
    leango("copy", f"oci:{tmp_path / 'layout'}:v1", f"{host}/bare/app:v1", "--no-referrers", *insecure)
    refused = _verify(f"{host}/bare/app@{digest}", ours, *insecure, check=False)
    assert refused.returncode == 1 and f"@{digest}: no signature verifies with {ours.pub}" in refused.stderr


def test_what_a_source_lists_under_cosigns_tags(registry, make_image, do_push, keys):
    ours, _ = keys
    image = make_image()
    host = registry.host
    options = RegistryOptions(insecure_hosts=(host,))
    do_push(image, [f"{host}/listed/app:v1"], options=options)
    source = _source(registry, "listed/app")
    try:
        assert [a for a in attached(source, load(source, source.resolve("v1"), "x")) if isinstance(a, Tagged)] == []
    finally:
        source.close()
    do_push(image, [f"{host}/listed/app:v1"], referrers=sign.signatures(ours.signer, "x", image, []), options=options)
    source = _source(registry, "listed/app")
    try:
        (found,) = attached(source, load(source, source.resolve("v1"), "x"))
        assert isinstance(found, Tagged) and found.tag == sign.signature_tag(image.digest)
        assert found.merge is None  # read back: what to do with it is the writer's choice
    finally:
        source.close()


def test_verify_key_on_a_docker_archive_says_it_cannot_carry_signatures(make_image, tmp_path, keys):
    from leango.oci.sinks.docker_archive import write_docker_archive
    image = make_image()
    write_docker_archive(tmp_path / "d.tar", image, ["app:v1"])
    proc = _verify(f"docker-archive:{tmp_path / 'd.tar'}", keys[0], check=False)
    assert proc.returncode == 1
    assert "a docker-archive cannot carry signatures" in proc.stderr
