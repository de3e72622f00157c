"""Cross-compiled platforms (no emulation): one image per platform, an index over them."""

import json

from support.cli import leango
from support.ocicheck import check_layout
from support.paths import FIXTURES
from support.peers import extract, skopeo_inspect


def test_two_platforms_make_an_index_in_every_output(tmp_path, cache_dir):
    ref = "localhost:5000/hello:multi"
    proc = leango("build", FIXTURES / "hello-world", "--platform", "linux/amd64,linux/arm64", "--tag", ref,
                  "--json", "--oci-layout", tmp_path / "l", "--oci-archive", tmp_path / "a.tar",
                  "--tarball", tmp_path / "d.tar", "--cache-dir", cache_dir)
    result = json.loads(proc.stdout)
    assert result["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert [i["platform"] for i in result["images"]] == ["linux/amd64", "linux/arm64"]
    assert len(check_layout(tmp_path / "l").manifests) == 2
    raw = skopeo_inspect(f"oci:{tmp_path / 'l'}:{ref}", raw=True)
    assert [m["platform"]["architecture"] for m in raw["manifests"]] == ["amd64", "arm64"]
    assert len(check_layout(extract(tmp_path / "a.tar", tmp_path / "ax")).manifests) == 2
    # The shared base layer is stored once; each platform has its own app layer.
    layers = [l["digest"] for i in result["images"] for l in i["layers"]]
    assert layers[0] == layers[2] and layers[1] != layers[3]
    entries = json.loads((extract(tmp_path / "d.tar", tmp_path / "dx") / "manifest.json").read_bytes())
    assert len(entries) == 2 and entries[0]["RepoTags"] == [ref]
