"""--sign-key (issue 18, part 3): the reference verifier, cosign, accepts leango's signatures of
the image and its attestations (SLSA provenance, SPDX SBOM), refuses them under another key, and
the key's password never shows."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from support.cli import leango
from support.paths import FIXTURES
from support.tools import require, require_go_tool

PASSWORD = "correct-horse-battery"


def _cosign(*args: str, cwd=None, env=None) -> subprocess.CompletedProcess:
    home = Path(cwd or ".")
    env = {**os.environ, "HOME": str(home), "TUF_ROOT": str(home / "tuf"), **(env or {})}
    return subprocess.run([require_go_tool("cosign"), *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """cosign's own encrypted key pair, and another pair that signed nothing."""
    out = {}
    for name in ("signer", "stranger"):
        d = tmp_path_factory.mktemp(name)
        proc = _cosign("generate-key-pair", cwd=d, env={"COSIGN_PASSWORD": PASSWORD})
        assert proc.returncode == 0, proc.stderr
        out[name] = d
    return out


def _verify(ref: str, pub: Path, *extra: str) -> subprocess.CompletedProcess:
    return _cosign(*extra[:1], "--key", str(pub), "--insecure-ignore-tlog", "--allow-http-registry", *extra[1:], ref,
                   cwd=pub.parent)


def _build(registry, tmp_path, cache_dir, key: Path, *extra, env=None):
    ref = f"{registry.host}/signed/hello:v1"
    proc = leango("build", FIXTURES / "hello-world", "--tag", ref, "--push", "--insecure-registry", registry.host,
                  "--sign-key", key, "--json", "--cache-dir", cache_dir, *extra,
                  env={**os.environ, **(env or {})}, check=False)
    return proc, ref


def test_cosign_verifies_the_signature_and_the_attestations(keys, registry, tmp_path, cache_dir):
    require("buildah")
    proc, ref = _build(registry, tmp_path, cache_dir, keys["signer"] / "cosign.key", "--provenance", "-v",
                       env={"COSIGN_PASSWORD": PASSWORD})
    assert proc.returncode == 0, proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
    digest = json.loads(proc.stdout)["digest"]
    pinned = f"{ref.rsplit(':', 1)[0]}@{digest}"
    pub = keys["signer"] / "cosign.pub"
    ok = _verify(pinned, pub, "verify")
    assert ok.returncode == 0, ok.stderr
    claims = json.loads(ok.stdout)
    assert claims[0]["critical"]["image"]["docker-manifest-digest"] == digest
    provenance = _verify(pinned, pub, "verify-attestation", "--type", "slsaprovenance1")
    assert provenance.returncode == 0, provenance.stderr
    spdx = _verify(pinned, pub, "verify-attestation", "--type", "spdxjson")
    assert spdx.returncode == 0, spdx.stderr
    # Another key: cosign refuses every one of them.
    stranger = keys["stranger"] / "cosign.pub"
    assert _verify(pinned, stranger, "verify").returncode != 0
    assert _verify(pinned, stranger, "verify-attestation", "--type", "slsaprovenance1").returncode != 0
    # Nothing attested as CycloneDX was made: cosign finds none of that type.
    assert _verify(pinned, pub, "verify-attestation", "--type", "cyclonedx").returncode != 0
    # leango verify --key makes the same checks without cosign, and refuses the stranger's key.
    ours = json.loads(leango("verify", pinned, "--key", pub, "--insecure-registry", registry.host, "--json").stdout)
    assert list(ours["signatures"]) == [digest] and ours["signatures"][digest]["signatures"] == 1
    assert sorted(ours["signatures"][digest]["attestations"]) == ["https://slsa.dev/provenance/v1",
                                                                   "https://spdx.dev/Document"]
    theirs = leango("verify", pinned, "--key", stranger, "--insecure-registry", registry.host, check=False)
    assert theirs.returncode == 1 and f"@{digest}: no signature verifies with {stranger}" in theirs.stderr


def test_a_plain_pem_key_signs_too_and_other_keys_are_refused(registry, tmp_path, cache_dir):
    require("buildah")
    key = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "p256.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    pub = tmp_path / "p256.pub"
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    proc, ref = _build(registry, tmp_path, cache_dir, pem)
    assert proc.returncode == 0, proc.stderr
    digest = json.loads(proc.stdout)["digest"]
    assert _verify(f"{ref.rsplit(':', 1)[0]}@{digest}", pub, "verify").returncode == 0
    # An image nobody signed: leango verify --key says so.
    unsigned = leango("build", FIXTURES / "hello-world", "--tag", f"{registry.host}/unsigned/hello:v1", "--push",
                      "--insecure-registry", registry.host, "--cache-dir", cache_dir, "--json")
    unsigned_ref = f"{registry.host}/unsigned/hello@{json.loads(unsigned.stdout)['digest']}"
    proc = leango("verify", unsigned_ref, "--key", pub, "--insecure-registry", registry.host, check=False)
    assert proc.returncode == 1 and "no signature verifies with" in proc.stderr
    other = tmp_path / "rsa.pem"
    other.write_bytes(rsa.generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    proc, _ = _build(registry, tmp_path, cache_dir, other)
    assert proc.returncode == 2 and "is not an ECDSA P-256 key" in proc.stderr


def test_a_wrong_or_missing_password_fails_before_building(keys, registry, tmp_path, cache_dir):
    key = keys["signer"] / "cosign.key"
    proc, _ = _build(registry, tmp_path, cache_dir, key, env={"COSIGN_PASSWORD": "wrong-guess-123"})
    assert proc.returncode == 2 and "wrong password" in proc.stderr
    assert "wrong-guess-123" not in proc.stderr + proc.stdout
    env = {k: v for k, v in os.environ.items() if k != "COSIGN_PASSWORD"}
    proc = leango("build", FIXTURES / "hello-world", "--tag", f"{registry.host}/x/y:v1", "--push",
                  "--sign-key", key, env=env, check=False, input="")
    assert proc.returncode == 2 and "set COSIGN_PASSWORD" in proc.stderr



def test_a_signed_layout_and_archive_carry_it_and_a_copy_verifies_with_cosign(keys, registry, tmp_path, cache_dir):
    """The air gap: signatures and attestations go into the layout and the archive, `leango verify
    --key` accepts them there, and after `leango copy` into a registry cosign accepts them too."""
    require("buildah")
    layout, archive = tmp_path / "layout", tmp_path / "image.tar"
    proc = leango("build", FIXTURES / "hello-world", "--tag", "example.com/team/hello:v1", "--sign-key",
                  keys["signer"] / "cosign.key", "--provenance", "--oci-layout", layout, "--oci-archive", archive,
                  "--json", "--cache-dir", cache_dir, env={**os.environ, "COSIGN_PASSWORD": PASSWORD})
    digest = json.loads(proc.stdout)["digest"]
    pub = keys["signer"] / "cosign.pub"
    for location in (f"oci:{layout}:example.com/team/hello:v1", f"oci-archive:{archive}:example.com/team/hello:v1"):
        ours = json.loads(leango("verify", location, "--key", pub, "--json").stdout)
        assert sorted(ours["signatures"][digest]["attestations"]) == ["https://slsa.dev/provenance/v1",
                                                                      "https://spdx.dev/Document"], location
        theirs = leango("verify", location, "--key", keys["stranger"] / "cosign.pub", check=False)
        assert theirs.returncode == 1 and "no signature verifies with" in theirs.stderr
    # skopeo still reads the named image in a layout that holds the signatures beside it.
    skopeo = subprocess.run([require("skopeo"), "inspect", f"oci:{layout}:example.com/team/hello:v1"],
                            capture_output=True, text=True)
    assert skopeo.returncode == 0 and json.loads(skopeo.stdout)["Digest"] == digest, skopeo.stderr
    dest = f"{registry.host}/carried/hello"
    leango("copy", f"oci-archive:{archive}:example.com/team/hello:v1", f"{dest}:v1")
    pinned = f"{dest}@{digest}"
    assert _verify(pinned, pub, "verify").returncode == 0
    for kind in ("slsaprovenance1", "spdxjson"):
        attested = _verify(pinned, pub, "verify-attestation", "--type", kind)
        assert attested.returncode == 0, attested.stderr
    assert _verify(pinned, keys["stranger"] / "cosign.pub", "verify").returncode != 0
