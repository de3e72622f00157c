"""Signatures cosign verifies: `cosign verify --key` and `cosign verify-attestation --key`.

A key is an ECDSA P-256 private key, in PEM (PKCS#8 or SEC 1, optionally password-protected) or
in cosign's own encrypted format (`cosign generate-key-pair`: scrypt and NaCl secretbox around a
PKCS#8 key). The primitives are cryptography's and PyNaCl's; nothing here is hand-made crypto.

Where cosign looks, without a transparency log (docs/supply-chain.md):

- an image's signature: the tag `sha256-<hex>.sig` of its repository, an image manifest whose
  layers are "simple signing" payloads (`application/vnd.dev.cosign.simplesigning.v1+json`)
  naming the digest, each with its signature in the `dev.cosignproject.cosign/signature`
  annotation;
- its attestations: the tag `sha256-<hex>.att`, whose layers are DSSE envelopes
  (`application/vnd.dsse.envelope.v1+json`) around in-toto statements, with a `predicateType`
  annotation (SLSA provenance; the SPDX SBOM as `https://spdx.dev/Document`).

Signatures are deterministic (RFC 6979), so signing the same image twice gives the same bytes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ..oci import mediatypes
from ..oci.blob import Blob
from ..oci.canonical import canonical_json
from ..oci.descriptor import Descriptor
from ..oci.digest import Digest
from ..oci.errors import OciError
from ..oci.manifest import Manifest
from ..oci.referrers import Tagged
from . import provenance, sbom
from .errors import BuildError

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE = "application/vnd.dsse.envelope.v1+json"
IN_TOTO = provenance.MEDIA_TYPE
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SPDX_PREDICATE = "https://spdx.dev/Document"
_ENCRYPTED = (b"ENCRYPTED SIGSTORE PRIVATE KEY", b"ENCRYPTED COSIGN PRIVATE KEY")
_SCRYPT_PARAMS = ({"N": 32768, "r": 8, "p": 1}, {"N": 65536, "r": 8, "p": 1}, {"N": 131072, "r": 8, "p": 1})


class SigningError(BuildError):
    """The key cannot be used (unreadable, wrong password, not ECDSA P-256)."""


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError as exc:  # pragma: no cover - the extra is in every test environment
        raise SigningError("signing needs the cryptography library", "pip install 'leango[sign]'") from exc
    return ec


class Signer:
    """An ECDSA P-256 private key; its repr never shows it."""

    def __init__(self, key: Any, source: str):
        self._key, self.source = key, source

    def __repr__(self) -> str:
        return f"Signer(ECDSA P-256 key from {self.source})"

    def sign(self, data: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        ec = _crypto()
        return bytes(self._key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True)))

    def public_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization
        return bytes(self._key.public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))


def load_key(path: Path, password: Callable[[], bytes]) -> Signer:
    """The key at path; password() is asked only for an encrypted key."""
    ec = _crypto()
    from cryptography.hazmat.primitives import serialization
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read the signing key {path}: {exc.strerror}") from exc
    try:
        if any(b"-----BEGIN " + kind + b"-----" in pem for kind in _ENCRYPTED):
            key = serialization.load_der_private_key(_cosign_decrypt(pem, password()), None)
        elif b"ENCRYPTED" in pem or b"Proc-Type: 4,ENCRYPTED" in pem:
            key = serialization.load_pem_private_key(pem, password())
        else:
            key = serialization.load_pem_private_key(pem, None)
    except (ValueError, TypeError) as exc:
        # cryptography's messages name neither the password nor the key material.
        raise SigningError(f"cannot load the signing key {path}: {exc}",
                           "an ECDSA P-256 key in PEM, or cosign's encrypted key with the right "
                           "COSIGN_PASSWORD") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise SigningError(f"the signing key {path} is not an ECDSA P-256 key",
                           "cosign generate-key-pair makes one; so does "
                           "`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`")
    return Signer(key, str(path))


def _cosign_decrypt(pem: bytes, password: bytes) -> bytes:
    """cosign's (go-securesystemslib's) encrypted key: JSON holding scrypt parameters, a
    secretbox nonce and the ciphertext of the PKCS#8 DER key, base64 inside PEM."""
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
    try:
        import nacl.exceptions
        import nacl.secret
    except ImportError as exc:  # pragma: no cover
        raise SigningError("cosign's encrypted keys need PyNaCl", "pip install 'leango[sign]'") from exc
    body = b"".join(line for line in pem.strip().splitlines()[1:-1] if b":" not in line)
    try:
        doc = json.loads(base64.b64decode(body))
        kdf, cipher = doc["kdf"], doc["cipher"]
        if kdf["name"] != "scrypt" or cipher["name"] != "nacl/secretbox" or kdf["params"] not in _SCRYPT_PARAMS:
            raise ValueError("an unknown key derivation or cipher")
        params = kdf["params"]
        key = Scrypt(salt=base64.b64decode(kdf["salt"]), length=32, n=params["N"], r=params["r"],
                     p=params["p"]).derive(password)
        return bytes(nacl.secret.SecretBox(key).decrypt(base64.b64decode(doc["ciphertext"]),
                                                        base64.b64decode(cipher["nonce"])))
    except nacl.exceptions.CryptoError:
        raise ValueError("decryption failed (wrong password?)") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a cosign key: {exc}") from None


def _image_manifest(layers: list[tuple[bytes, str, tuple[tuple[str, str], ...]]]) -> Manifest:
    """An image-shaped manifest holding each payload as a layer (as cosign writes .sig and .att)."""
    return _image_manifest_of(tuple(Blob(Descriptor(media_type, Digest.of_bytes(data), len(data), annotations),
                                         data=data) for data, media_type, annotations in layers))


def _image_manifest_of(blobs: tuple[Blob, ...]) -> Manifest:
    config = canonical_json({"architecture": "", "os": "", "config": {},
                             "rootfs": {"type": "layers", "diff_ids": [str(b.digest) for b in blobs]}})
    config_blob = Blob(Descriptor(mediatypes.OCI_CONFIG, Digest.of_bytes(config), len(config)), data=config)
    return Manifest("", blobs, config=config_blob)


def signature_tag(digest: Digest) -> str:
    return f"{digest.algorithm}-{digest.hex}.sig"


def attestation_tag(digest: Digest) -> str:
    return f"{digest.algorithm}-{digest.hex}.att"


def simple_signing(repository: str, digest: Digest) -> bytes:
    return canonical_json({"critical": {"identity": {"docker-reference": repository},
                                        "image": {"docker-manifest-digest": str(digest)},
                                        "type": "cosign container image signature"},
                           "optional": None})


def signature_manifest(signer: Signer, repository: str, digests: list[Digest]) -> dict[Digest, Manifest]:
    """For each digest, the manifest cosign finds under its .sig tag."""
    out = {}
    for digest in digests:
        payload = simple_signing(repository, digest)
        sig = base64.b64encode(signer.sign(payload)).decode()
        out[digest] = _image_manifest([(payload, SIMPLE_SIGNING, ((SIGNATURE_ANNOTATION, sig),))])
    return out


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what is signed."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def envelope(signer: Signer, statement: bytes) -> bytes:
    sig = signer.sign(pae(IN_TOTO, statement))
    return canonical_json({"payloadType": IN_TOTO, "payload": base64.b64encode(statement).decode(),
                           "signatures": [{"keyid": "", "sig": base64.b64encode(sig).decode()}]})


def sbom_statement(sbom: bytes, name: str, digest: Digest) -> bytes:
    """An in-toto statement whose predicate is the SPDX document (cosign's `--type spdxjson`)."""
    return canonical_json({"_type": provenance.STATEMENT_TYPE,
                           "subject": [{"name": name, "digest": {digest.algorithm: digest.hex}}],
                           "predicateType": SPDX_PREDICATE, "predicate": json.loads(sbom)})


@dataclass(frozen=True)
class Attestation:
    subject: Digest
    statement: bytes
    predicate_type: str


def attestation_manifests(signer: Signer, attestations: list[Attestation]) -> dict[Digest, Manifest]:
    """For each subject, the manifest cosign finds under its .att tag: one DSSE layer per statement."""
    by_subject: dict[Digest, list[tuple[bytes, str, tuple[tuple[str, str], ...]]]] = {}
    for a in attestations:
        by_subject.setdefault(a.subject, []).append(
            (envelope(signer, a.statement), DSSE, ((SIGNATURE_ANNOTATION, ""), ("predicateType", a.predicate_type))))
    return {subject: _image_manifest(layers) for subject, layers in by_subject.items()}


def signed_digests(artifact: Any) -> list[Digest]:
    """What is signed (and what `leango verify --key` requires signed): the root and each platform image."""
    return list(dict.fromkeys([artifact.digest, *(i.digest for i in artifact.images())]))


def signed_manifests(signer: Signer, repository: str, artifact: Any,
                     attached: list[Manifest]) -> dict[str, Manifest]:
    """tag → manifest: a signature of the artifact's root and of each platform image, and the
    attached SPDX SBOMs and provenance as signed attestations of their subjects."""
    tags = {signature_tag(d): m for d, m in signature_manifest(signer, repository, signed_digests(artifact)).items()}
    statements = []
    for m in attached:
        if m.subject is None or not m.layers:
            continue
        payload = m.layers[0].open().read()
        if m.artifact_type == IN_TOTO:
            statements.append(Attestation(m.subject.digest, payload, json.loads(payload)["predicateType"]))
        elif m.artifact_type == sbom.SPDX_TYPE:
            statements.append(Attestation(m.subject.digest, sbom_statement(payload, repository, m.subject.digest),
                                          SPDX_PREDICATE))
    tags.update({attestation_tag(d): m for d, m in attestation_manifests(signer, statements).items()})
    return tags


def signatures(signer: Signer, repository: str, artifact: Any, attached: list[Manifest]) -> list[Tagged]:
    """signed_manifests as attachments to write with the image: each appended to what its tag
    holds already, as `cosign sign` appends (another signer's signature is never replaced)."""
    return [Tagged(tag, manifest, partial(appended, manifest))
            for tag, manifest in signed_manifests(signer, repository, artifact, attached).items()]


def appended(new: Any, existing: bytes, blob_of: Callable[[Descriptor], Blob]) -> Manifest:
    """The cosign manifest existing with the layers of new (a Manifest, or a ParsedImage read from
    a source) it lacks added after its own; ValueError when existing is not an image manifest."""
    try:
        doc = json.loads(existing)
        layers = [Descriptor.from_json(d) for d in doc["layers"]]
    except (KeyError, TypeError, AttributeError, OciError) as exc:
        raise ValueError(f"not an image manifest ({exc!r})") from None
    if doc.get("mediaType", mediatypes.OCI_MANIFEST) not in mediatypes.MANIFEST_TYPES:
        raise ValueError(f"a {doc.get('mediaType')}, not an image manifest")
    # A layer is one signature: the same payload signed by another key is another layer (its
    # signature is in the descriptor's annotations), the same descriptor is the same signature.
    def same(d: Descriptor) -> tuple[object, ...]:
        return d.media_type, d.digest, d.size, tuple(sorted(d.annotations))
    there = {same(d) for d in layers}
    blobs = [blob_of(d) for d in layers] + [b for b in new.layers if same(b.descriptor) not in there]
    return _image_manifest_of(tuple(blobs))


# -- verification (leango verify --key): the checks cosign makes with a key and no log ----------

def load_public_key(path: Path) -> Any:
    """An ECDSA P-256 public key in PEM (cosign.pub)."""
    ec = _crypto()
    from cryptography.hazmat.primitives import serialization
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except OSError as exc:
        raise SigningError(f"cannot read the public key {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise SigningError(f"{path} is not a PEM public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise SigningError(f"the public key {path} is not an ECDSA P-256 key")
    return key


def _valid(public_key: Any, signature_b64: str, data: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    ec = _crypto()
    try:
        public_key.verify(base64.b64decode(signature_b64, validate=True), data, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError):
        return False


def _layers(source: Any, tag: str) -> list[Any]:
    """The layers of the manifest under tag in source, verified as read; [] when there is none."""
    from ..oci.parsed import blob, load
    from ..oci.sources import find_tag
    descriptor = find_tag(source, tag)
    if descriptor is None:
        return []
    where = f"{source.where}:{tag}"
    return [blob(source, d, where) for d in getattr(load(source, descriptor, where), "layer_descriptors", ())]


def verified_signatures(source: Any, digest: Digest, public_key: Any) -> int:
    """How many signatures under digest's .sig tag verify with public_key and claim digest."""
    good = 0
    for layer in _layers(source, signature_tag(digest)):
        if layer.descriptor.media_type != SIMPLE_SIGNING:
            continue
        with layer.open() as f:
            payload = f.read()
        signature = dict(layer.descriptor.annotations).get(SIGNATURE_ANNOTATION, "")
        if not _valid(public_key, signature, payload):
            continue
        try:
            critical = json.loads(payload)["critical"]
            claimed = critical["image"]["docker-manifest-digest"]
        except (ValueError, KeyError, TypeError):
            continue
        if claimed == str(digest) and critical.get("type") == "cosign container image signature":
            good += 1
    return good


def verified_attestations(source: Any, digest: Digest, public_key: Any) -> list[str]:
    """The predicate types of the attestations under digest's .att tag whose DSSE signature
    verifies with public_key and whose statement names digest as a subject."""
    found = []
    for layer in _layers(source, attestation_tag(digest)):
        if layer.descriptor.media_type != DSSE:
            continue
        with layer.open() as f:
            try:
                env = json.loads(f.read())
                payload = base64.b64decode(env["payload"], validate=True)
                sigs = [s["sig"] for s in env["signatures"]]
                statement = json.loads(payload)
                subjects = {f"{a}:{h}" for s in statement["subject"] for a, h in s["digest"].items()}
            except (ValueError, KeyError, TypeError):
                continue
        if env.get("payloadType") != IN_TOTO or str(digest) not in subjects:
            continue
        if any(_valid(public_key, sig, pae(IN_TOTO, payload)) for sig in sigs):
            found.append(str(statement.get("predicateType", "")))
    return found
