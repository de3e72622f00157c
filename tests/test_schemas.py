"""The image-spec JSON schemas as leango verify uses them: every kind accepts a good document and
refuses a broken one naming where; and when schemas or jsonschema are missing, it says so."""

from __future__ import annotations

import builtins
import json

import pytest

from leango.oci import validate
from leango.oci.validate import SCHEMA_DIR, schema_checker

D = "sha256:" + "a" * 64
DESC = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": D, "size": 1}
GOOD = {
    "manifest": {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                 "config": {**DESC, "mediaType": "application/vnd.oci.image.config.v1+json"}, "layers": [DESC]},
    "index": {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
              "manifests": [{**DESC, "mediaType": "application/vnd.oci.image.manifest.v1+json"}]},
    "config": {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [D]}},
    "layout": {"imageLayoutVersion": "1.0.0"},
    "descriptor": DESC,
}
BROKEN = {
    "manifest": (lambda d: d["layers"][0].update(size="1"), "layers/0/size"),
    "index": (lambda d: d.update(manifests="none"), "manifests"),
    "config": (lambda d: d["rootfs"].update(type=5), "rootfs/type"),
    "layout": (lambda d: d.pop("imageLayoutVersion"), "the document"),
    "descriptor": (lambda d: d.update(digest="no-algorithm"), "digest"),
}


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_each_kind_accepts_the_good_and_refuses_the_broken(kind):
    check, said = schema_checker()
    assert said == "checked"
    check(kind, GOOD[kind])
    check(kind, json.dumps(GOOD[kind]).encode())  # bytes too
    broken = json.loads(json.dumps(GOOD[kind]))
    change, where = BROKEN[kind]
    change(broken)
    with pytest.raises(validate.OciError) as info:
        check(kind, broken)
    assert str(info.value).startswith(f"{where}: ")


def test_the_schema_directory_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LEANGO_OCI_SCHEMAS", str(tmp_path))
    assert validate.schema_dir() == tmp_path
    check, said = schema_checker()
    assert check is None and said == (f"not checked: no image-spec schemas in {tmp_path} (apt-get install "
                                      "golang-github-opencontainers-image-spec-dev, or set LEANGO_OCI_SCHEMAS)")
    monkeypatch.delenv("LEANGO_OCI_SCHEMAS")
    assert validate.schema_dir() == SCHEMA_DIR
    assert schema_checker(SCHEMA_DIR)[1] == "checked"


def test_without_jsonschema_it_says_how_to_get_it(monkeypatch):
    real = builtins.__import__

    def no_jsonschema(name, *a, **kw):
        if name.startswith("jsonschema"):
            raise ImportError(name)
        return real(name, *a, **kw)
    monkeypatch.setattr(builtins, "__import__", no_jsonschema)
    assert schema_checker() == (None, "not checked: install leango[verify] (jsonschema)")
