"""Keys, payloads and manifests of --sign-key without a registry (cosign itself checks them end
to end in tests/e2e/test_sign.py); and the provenance's scrubbing of URLs and reading of git."""

from __future__ import annotations

import base64
import json
import re
import subprocess

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from leango.builder import provenance, sign
from leango.oci import mediatypes
from leango.oci.digest import Digest

DIGEST = Digest.of_bytes(b"image")


def _pem(key, password: bytes | None = None) -> bytes:
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def _verify(public_key, signature: bytes, data: bytes) -> bool:
    try:
        public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


@pytest.fixture
def p256(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "key.pem"
    path.write_bytes(_pem(key))
    return key, path


def _no_password():
    raise AssertionError("a plain key needs no password")


def test_a_plain_p256_key_signs_deterministically(p256):
    key, path = p256
    signer = sign.load_key(path, _no_password)
    first, second = signer.sign(b"payload"), signer.sign(b"payload")
    assert first == second  # RFC 6979: the same bytes every time
    assert _verify(key.public_key(), first, b"payload") and not _verify(key.public_key(), first, b"other")
    assert signer.public_pem() == key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    assert "BEGIN" not in repr(signer) and str(path) in repr(signer)


def test_a_password_protected_pem_key_asks_for_its_password(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "enc.pem"
    path.write_bytes(_pem(key, b"pw-123"))
    signer = sign.load_key(path, lambda: b"pw-123")
    assert _verify(key.public_key(), signer.sign(b"x"), b"x")
    with pytest.raises(sign.SigningError, match="cannot load the signing key") as info:
        sign.load_key(path, lambda: b"nope")
    assert "nope" not in str(info.value)


@pytest.mark.parametrize("make", [lambda: ec.generate_private_key(ec.SECP384R1()), ed25519.Ed25519PrivateKey.generate],
                         ids=["p384", "ed25519"])
def test_keys_other_than_p256_are_refused(tmp_path, make):
    path = tmp_path / "k.pem"
    path.write_bytes(_pem(make()))
    with pytest.raises(sign.SigningError, match="is not an ECDSA P-256 key"):
        sign.load_key(path, _no_password)


def test_unreadable_and_malformed_keys(tmp_path):
    with pytest.raises(sign.SigningError, match="cannot read the signing key"):
        sign.load_key(tmp_path / "missing.pem", _no_password)
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(sign.SigningError, match="cannot load the signing key"):
        sign.load_key(bad, _no_password)


LEGACY_SCRYPT = {"N": 32768, "r": 8, "p": 1}


def _cosign_key(tmp_path, params=LEGACY_SCRYPT, password=b"pw"):
    """A key in cosign's encrypted format, made with the same primitives cosign uses."""
    import nacl.secret
    import nacl.utils
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    salt, nonce = nacl.utils.random(32), nacl.utils.random(24)
    box_key = Scrypt(salt=salt, length=32, n=params["N"], r=params["r"], p=params["p"]).derive(password)
    ciphertext = nacl.secret.SecretBox(box_key).encrypt(der, nonce).ciphertext
    doc = {"kdf": {"name": "scrypt", "params": params, "salt": base64.b64encode(salt).decode()},
           "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
           "ciphertext": base64.b64encode(ciphertext).decode()}
    body = base64.encodebytes(json.dumps(doc).encode()).decode()
    path = tmp_path / "cosign.key"
    path.write_text(f"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n{body}-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    return key, path


def test_cosign_encrypted_keys_open_with_the_right_password_only(tmp_path):
    key, path = _cosign_key(tmp_path)
    asked = []
    signer = sign.load_key(path, lambda: asked.append(1) or b"pw")
    assert asked == [1] and _verify(key.public_key(), signer.sign(b"x"), b"x")
    with pytest.raises(sign.SigningError, match="wrong password"):
        sign.load_key(path, lambda: b"pw2")


def test_cosign_keys_with_unknown_parameters_are_refused(tmp_path):
    _, path = _cosign_key(tmp_path, params={"N": 1024, "r": 8, "p": 1})  # weaker than any cosign makes
    with pytest.raises(sign.SigningError, match="unknown key derivation"):
        sign.load_key(path, lambda: b"pw")


def test_the_signature_manifest_is_what_cosign_reads(p256):
    key, path = p256
    signer = sign.load_key(path, _no_password)
    manifests = sign.signature_manifest(signer, "reg.example/team/app", [DIGEST])
    manifest = manifests[DIGEST]
    doc = json.loads(manifest.raw)
    assert "artifactType" not in doc and doc["config"]["mediaType"] == mediatypes.OCI_CONFIG
    (layer,) = manifest.layers
    assert layer.descriptor.media_type == sign.SIMPLE_SIGNING
    payload = layer.open().read()
    assert json.loads(payload) == {"critical": {"identity": {"docker-reference": "reg.example/team/app"},
                                                "image": {"docker-manifest-digest": str(DIGEST)},
                                                "type": "cosign container image signature"}, "optional": None}
    signature = base64.b64decode(dict(layer.descriptor.annotations)[sign.SIGNATURE_ANNOTATION])
    assert _verify(key.public_key(), signature, payload)
    config = json.loads(manifest.config.open().read())
    assert config["rootfs"]["diff_ids"] == [str(layer.digest)]
    assert sign.signature_tag(DIGEST) == f"sha256-{DIGEST.hex}.sig"
    assert sign.attestation_tag(DIGEST) == f"sha256-{DIGEST.hex}.att"


def test_attestations_are_dsse_envelopes_one_layer_each_per_subject(p256):
    key, path = p256
    signer = sign.load_key(path, _no_password)
    other = Digest.of_bytes(b"other")
    statements = [sign.Attestation(DIGEST, b'{"a":1}', "https://slsa.dev/provenance/v1"),
                  sign.Attestation(DIGEST, b'{"b":2}', sign.SPDX_PREDICATE),
                  sign.Attestation(other, b'{"c":3}', sign.SPDX_PREDICATE)]
    manifests = sign.attestation_manifests(signer, statements)
    assert set(manifests) == {DIGEST, other}
    layers = manifests[DIGEST].layers
    assert [dict(l.descriptor.annotations)["predicateType"] for l in layers] == [
        "https://slsa.dev/provenance/v1", sign.SPDX_PREDICATE]
    envelope = json.loads(layers[0].open().read())
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert base64.b64decode(envelope["payload"]) == b'{"a":1}'
    sig = base64.b64decode(envelope["signatures"][0]["sig"])
    assert _verify(key.public_key(), sig, b"DSSEv1 28 application/vnd.in-toto+json 7 {\"a\":1}")
    assert not _verify(key.public_key(), sig, b'{"a":1}')  # what is signed is the PAE, not the payload


def test_the_sbom_statement_wraps_the_document():
    doc = json.loads(sign.sbom_statement(b'{"spdxVersion":"SPDX-2.3"}', "reg/app", DIGEST))
    assert doc == {"_type": "https://in-toto.io/Statement/v1",
                   "subject": [{"name": "reg/app", "digest": {"sha256": DIGEST.hex}}],
                   "predicateType": "https://spdx.dev/Document", "predicate": {"spdxVersion": "SPDX-2.3"}}


@pytest.mark.parametrize("text,clean", [
    ("https://bot:tok@proxy.example/go,direct", "https://proxy.example/go,direct"),
    ("https://a:1@one.example|https://b@two.example/,off", "https://one.example|https://two.example/,off"),
    ("ssh://git:tok@host/repo.git", "ssh://host/repo.git"),
    ("https://bot:p@ss@proxy.example/go", "https://proxy.example/go"),  # an '@' in the password: all of it goes
    ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
    ("https://host/p?email=a@b", "https://host/p?email=a@b"),
    ("loopvar", "loopvar"),
])
def test_urls_lose_their_userinfo_and_other_text_stays(text, clean):
    assert provenance.clean_url(text) == clean


def _git(cwd, *args):
    subprocess.run(["git", "-c", "user.email=a@b.c", "-c", "user.name=a", *args], cwd=cwd, check=True,
                   capture_output=True)


def test_git_source_reads_commit_remote_and_dirtiness(tmp_path):
    assert provenance.git_source(tmp_path) is None  # not a work tree
    (tmp_path / "main.go").write_text("package main\n")
    _git(tmp_path, "init", "-q")
    assert provenance.git_source(tmp_path) is None  # no commit yet
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "one")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert provenance.git_source(tmp_path) == provenance.Source("", head, False)
    _git(tmp_path, "remote", "add", "origin", "https://me:pat@git.example/x.git")
    (tmp_path / "new.txt").write_text("untracked")
    assert provenance.git_source(tmp_path) == provenance.Source("https://git.example/x.git", head, True)
    # A tag at HEAD is its version (the highest of several); one on another commit is not.
    _git(tmp_path, "tag", "v0.9.0")
    _git(tmp_path, "tag", "v1.10.0")
    _git(tmp_path, "tag", "v1.9.0")
    assert provenance.git_source(tmp_path).tag == "v1.10.0"
    _git(tmp_path, "commit", "-qm", "two", "--allow-empty")
    assert provenance.git_source(tmp_path).tag == ""


@pytest.mark.parametrize(("remote", "url"), [
    ("https://git.example/team/x.git", "https://git.example/team/x.git"),
    ("https://me:pat@git.example/x", "https://git.example/x"),
    ("http://git.example/x", "http://git.example/x"),
    ("git@github.com:team/x.git", "https://github.com/team/x.git"),
    ("github.com:team/x", "https://github.com/team/x"),
    ("ssh://git@git.example:2222/team/x.git", "https://git.example/team/x.git"),
    ("git://git.example/x", "https://git.example/x"),
    # Host paths and what is not a URL are never published.
    ("/srv/git/x.git", ""), ("../x", ""), ("./x:y", ""), ("file:///srv/git/x", ""), ("x", ""), ("", ""),
    ("ssh://git.example", ""),
])
def test_the_source_annotation_is_a_url_people_can_open(remote, url):
    assert provenance.public_url(remote) == url


def test_source_annotations_name_only_what_is_known():
    source = provenance.Source("git@github.com:team/x.git", "c0ffee", True, "v1.2.3")
    assert provenance.source_annotations(source, 1700000000) == (
        ("org.opencontainers.image.source", "https://github.com/team/x.git"),
        ("org.opencontainers.image.revision", "c0ffee"),
        ("org.opencontainers.image.version", "v1.2.3"),
        ("org.opencontainers.image.created", "2023-11-14T22:13:20Z"))
    assert provenance.source_annotations(provenance.Source("/srv/x", "c0ffee", False), 0) == (
        ("org.opencontainers.image.revision", "c0ffee"),)
    assert provenance.source_annotations(None, 0) == ()
    assert provenance.source_annotations(None, 1) == (("org.opencontainers.image.created", "1970-01-01T00:00:01Z"),)


def test_the_command_line_s_annotations_win_over_the_source_s():
    from leango.builder.spec import ImageSettings
    given = ImageSettings(annotations=(("org.opencontainers.image.version", "custom"), ("a", "1")),
                          index_annotations=(("b", "2"),))
    found = (("org.opencontainers.image.revision", "c0ffee"), ("org.opencontainers.image.version", "v1"))
    merged = given.with_defaults(found)
    assert merged.annotations == (("org.opencontainers.image.revision", "c0ffee"),
                                  ("org.opencontainers.image.version", "custom"), ("a", "1"))
    assert merged.index_annotations == (*found, ("b", "2"))
    assert merged.labels == given.labels and merged.args == given.args
    assert given.with_defaults(()) == given


def _described(platform: str, deps, go="go1.27.3"):
    from leango.builder.buildinfo import BuildInfo, Module
    from leango.builder.sbom import Described
    from leango.oci.descriptor import Descriptor, Platform
    os_, arch = platform.split("/")
    manifest = Descriptor(mediatypes.OCI_MANIFEST, Digest.of_bytes(platform.encode()), 10, platform=Platform(os_, arch))
    return Described("app", manifest, "1970-01-01T00:00:00Z", "/app",
                     BuildInfo(go, "example.com/app", Module("example.com/app"), tuple(deps)), ())


def test_the_statement_lists_each_module_once_with_what_was_compiled():
    from leango.builder.buildinfo import Module
    h1 = "h1:" + base64.b64encode(bytes(range(32))).decode()
    plain = Module("github.com/a/b", "v1.0.0", h1)
    forked = Module("github.com/c/d", "v1.1.0", "", Module("github.com/me/d", "v1.1.1", h1))
    local = Module("github.com/e/f", "v0.1.0", "", Module("/home/me/src/f"))
    described = [_described("linux/amd64", [plain, forked, local]), _described("linux/arm64", [plain])]
    params = provenance.Parameters(("example.com/app",), ("linux/amd64", "linux/arm64"), ("reg/app:v1",), "",
                                   (), (("TOKEN_URL", "https://u:p@h/x"),), "app", "65532", 0, {})
    args = ([("reg/app:v1", DIGEST)], params, None, "go1.27.3", "ab" * 32, described)
    raw = provenance.statement(*args)
    assert raw == provenance.statement(*args)  # deterministic
    doc = json.loads(raw)
    deps = doc["predicate"]["buildDefinition"]["resolvedDependencies"]
    assert deps[0]["name"] == "go-toolchain"  # no git source: no source entry
    modules = {d["name"]: d for d in deps[1:]}
    assert set(modules) == {"github.com/a/b", "github.com/me/d", "github.com/e/f"}
    assert modules["github.com/a/b"] == {"uri": "pkg:golang/github.com/a/b@v1.0.0", "name": "github.com/a/b",
                                         "digest": {"dirHash": bytes(range(32)).hex()}}
    assert modules["github.com/me/d"]["annotations"] == {"replaces": "github.com/c/d@v1.1.0"}
    assert modules["github.com/me/d"]["uri"] == "pkg:golang/github.com/me/d@v1.1.1"
    assert modules["github.com/e/f"] == {"uri": "pkg:golang/github.com/e/f@v0.1.0", "name": "github.com/e/f",
                                         "annotations": {"replacedBy": "a local directory"}}
    assert b"/home/me" not in raw and b"u:p@" not in raw
    assert doc["predicate"]["buildDefinition"]["externalParameters"]["env"] == {"TOKEN_URL": "https://h/x"}
    assert [d["uri"] for d in deps[1:]] == sorted(d["uri"] for d in deps[1:])
    with_source = json.loads(provenance.statement(args[0], params, provenance.Source("", "c0ffee", True), *args[3:]))
    source = with_source["predicate"]["buildDefinition"]["resolvedDependencies"][0]
    assert source == {"name": "source", "digest": {"gitCommit": "c0ffee"}, "annotations": {"dirty": True}}


def test_a_signature_counts_only_for_the_digest_it_claims_and_the_key_that_made_it(p256, tmp_path):
    from leango.oci.sinks.layout import write_layout
    from leango.oci.sources import LayoutSource
    key, path = p256
    signer = sign.load_key(path, _no_password)
    other = Digest.of_bytes(b"another image")
    layout = tmp_path / "layout"
    # Under DIGEST's tag: a good signature of DIGEST; under OTHER's tag: a signature of DIGEST (a replay).
    write_layout(layout, sign.signature_manifest(signer, "r/app", [DIGEST])[DIGEST], [sign.signature_tag(DIGEST)])
    write_layout(layout, sign.signature_manifest(signer, "r/app", [DIGEST])[DIGEST], [sign.signature_tag(other)])
    source = LayoutSource(layout)
    assert sign.verified_signatures(source, DIGEST, key.public_key()) == 1
    assert sign.verified_signatures(source, other, key.public_key()) == 0
    stranger = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert sign.verified_signatures(source, DIGEST, stranger) == 0
    assert sign.verified_signatures(source, Digest.of_bytes(b"unsigned"), key.public_key()) == 0
    statement = json.dumps({"_type": "https://in-toto.io/Statement/v1", "predicateType": "https://x/p",
                            "subject": [{"name": "r/app", "digest": {"sha256": DIGEST.hex}}], "predicate": {}}).encode()
    att = sign.attestation_manifests(signer, [sign.Attestation(DIGEST, statement, "https://x/p")])[DIGEST]
    write_layout(layout, att, [sign.attestation_tag(DIGEST)])
    write_layout(layout, att, [sign.attestation_tag(other)])  # a statement about DIGEST under OTHER's tag
    assert sign.verified_attestations(source, DIGEST, key.public_key()) == ["https://x/p"]
    assert sign.verified_attestations(source, other, key.public_key()) == []
    assert sign.verified_attestations(source, DIGEST, stranger) == []


def test_public_keys_are_p256_pem_only(tmp_path, p256):
    key, _ = p256
    pub = tmp_path / "cosign.pub"
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    assert sign.load_public_key(pub).public_numbers() == key.public_key().public_numbers()
    with pytest.raises(sign.SigningError, match="cannot read the public key"):
        sign.load_public_key(tmp_path / "missing.pub")
    pub.write_text("not a key")
    with pytest.raises(sign.SigningError, match="is not a PEM public key"):
        sign.load_public_key(pub)
    pub.write_bytes(ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(sign.SigningError, match="is not an ECDSA P-256 key"):
        sign.load_public_key(pub)


def _layer_signatures(manifest) -> list[str]:
    return [dict(b.descriptor.annotations)[sign.SIGNATURE_ANNOTATION] for b in manifest.layers]


def test_a_second_signature_is_added_to_the_tag_never_put_in_place_of_the_first(tmp_path, p256, make_image):
    from leango.oci.referrers import Tagged
    from leango.oci.sinks.layout import write_layout
    from leango.oci.sources import LayoutSource, attached, find_tag
    key, path = p256
    image = make_image()
    ours = sign.signatures(sign.load_key(path, _no_password), "r/app", image, [])
    assert [t.tag for t in ours] == [sign.signature_tag(image.digest)] and ours[0].merge is not None
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    stranger_path = tmp_path / "stranger.pem"
    stranger_path.write_bytes(_pem(stranger_key))
    theirs = sign.signatures(sign.load_key(stranger_path, _no_password), "r/app", image, [])
    layout = tmp_path / "layout"
    write_layout(layout, image, ["r/app:v1"], ours)
    write_layout(layout, image, ["r/app:v1"], theirs)
    write_layout(layout, image, ["r/app:v1"], ours)  # again: nothing is added twice
    source = LayoutSource(layout)
    assert sign.verified_signatures(source, image.digest, key.public_key()) == 1
    assert sign.verified_signatures(source, image.digest, stranger_key.public_key()) == 1
    (found,) = [a for a in attached(source, _load(source, "r/app:v1")) if isinstance(a, Tagged)]
    assert found.tag == sign.signature_tag(image.digest)
    assert _layer_signatures(found.artifact) == _layer_signatures(ours[0].artifact) + _layer_signatures(theirs[0].artifact)
    # Without a merge (what a plain write of another manifest under the tag does), it is replaced.
    write_layout(layout, image, ["r/app:v1"], [Tagged(theirs[0].tag, theirs[0].artifact)])
    assert find_tag(LayoutSource(layout), theirs[0].tag).digest == theirs[0].digest
    assert sign.verified_signatures(LayoutSource(layout), image.digest, key.public_key()) == 0
    # The image is still what the layout names without a REF: its tags are not images.
    assert LayoutSource(layout).resolve("").digest == image.digest


def _load(source, ref):
    from leango.oci.parsed import load
    return load(source, source.resolve(ref), source.where)


def test_appending_refuses_what_is_not_an_image_manifest(p256, make_image):
    _, path = p256
    (tagged,) = sign.signatures(sign.load_key(path, _no_password), "r/app", make_image(), [])
    for existing, why in ((b"not json", "Expecting value"), (b"{}", "KeyError('layers')"),
                          (json.dumps({"mediaType": mediatypes.OCI_INDEX, "layers": []}).encode(),
                           f"a {mediatypes.OCI_INDEX}, not an image manifest")):
        with pytest.raises(ValueError, match=re.escape(why)):
            sign.appended(tagged.artifact, existing, None)
    empty = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST, "layers": []}).encode()
    assert _layer_signatures(sign.appended(tagged.artifact, empty, None)) == _layer_signatures(tagged.artifact)
