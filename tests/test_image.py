import hashlib
import json

import pytest

from leango.oci import Index, Platform, mediatypes
from leango.oci.errors import OciError
from leango.oci.image import Image
from support import schemas


def test_config_fields(make_image):
    img = make_image("hello", mtime=1700000000)
    cfg = json.loads(img.config_bytes)
    schemas.validate("config", cfg)
    assert cfg["created"] == "2023-11-14T22:13:20Z"
    assert (cfg["os"], cfg["architecture"]) == ("linux", "amd64")
    assert cfg["rootfs"] == {"type": "layers", "diff_ids": [str(l.diff_id) for l in img.layers]}
    assert cfg["config"]["Entrypoint"] == ["/hello"]
    assert cfg["config"]["User"] == "65532:65532"
    assert "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" in cfg["config"]["Env"]
    assert len(cfg["history"]) == len(img.layers)
    assert all(h["created"] == cfg["created"] for h in cfg["history"])


def test_config_carries_nothing_from_the_host(make_image, monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "hunter2")
    img = make_image()
    assert b"hunter2" not in img.config_bytes and b"SECRET_TOKEN" not in img.config_bytes
    env = json.loads(img.config_bytes)["config"]["Env"]
    assert all(e.split("=")[0] in ("PATH", "SSL_CERT_FILE") for e in env)


def test_manifest_bytes_hash_to_descriptor(make_image):
    img = make_image()
    manifest = json.loads(img.manifest_bytes)
    schemas.validate("manifest", manifest)
    assert img.descriptor.digest.hex == hashlib.sha256(img.manifest_bytes).hexdigest()
    assert img.descriptor.size == len(img.manifest_bytes)
    assert manifest["mediaType"] == mediatypes.OCI_MANIFEST
    assert manifest["config"]["digest"] == str(img.config_descriptor.digest)
    assert manifest["config"]["mediaType"] == mediatypes.OCI_CONFIG
    assert [l["mediaType"] for l in manifest["layers"]] == [mediatypes.OCI_LAYER_GZIP] * 2


def test_base_layer_is_shared(make_image):
    a, b = make_image("one"), make_image("two")
    assert a.layers[0].digest == b.layers[0].digest
    assert a.layers[1].digest != b.layers[1].digest


def test_index_of_platforms(make_image):
    amd, arm = make_image(), make_image(platform=Platform("linux", "arm64"))
    index = Index((amd, arm))
    doc = json.loads(index.index_bytes)
    schemas.validate("index", doc)
    assert [m["platform"]["architecture"] for m in doc["manifests"]] == ["amd64", "arm64"]
    assert index.digest.hex == hashlib.sha256(index.index_bytes).hexdigest()
    blobs = [b.digest for b in index.blobs()]
    assert len(blobs) == len(set(blobs)), "shared base layer listed twice"


def test_index_refuses_duplicate_platforms(make_image):
    with pytest.raises(OciError, match="duplicate"):
        Index((make_image("a"), make_image("b")))


def test_image_refuses_mismatched_diff_ids(make_image):
    img = make_image()
    with pytest.raises(OciError, match="diff_ids"):
        Image(img.config, img.layers[:1])
