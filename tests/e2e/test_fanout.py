"""Fan-out across runners: one `leango build --push-by-digest` per platform, each a process of its
own with a cache directory of its own (as matrix jobs on separate machines), then one
`leango index create` that merges them without pulling a layer, carrying what is attached."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request

import pytest

from support.cli import leango, leango_process
from support.paths import FIXTURES
from support.tools import require, require_go_tool

PLATFORMS = ("linux/amd64", "linux/arm64")


def _oras(*args: str) -> str:
    return subprocess.run([require_go_tool("oras"), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def matrix(tmp_path_factory, registry):
    """Two matrix jobs, run side by side: platform → the REPO@DIGEST each printed."""
    jobs = {}
    for platform in PLATFORMS:
        cache = tmp_path_factory.mktemp("runner-" + platform.replace("/", "-"))
        jobs[platform] = leango_process("build", FIXTURES / "hello-world", "--platform", platform,
                                        "--cache-dir", cache, "--repo", f"{registry.host}/fan", "--push-by-digest")
    printed = {}
    for platform, proc in jobs.items():
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err
        printed[platform] = out.strip()
    return printed


def test_push_by_digest_prints_repo_at_digest_and_pushes_no_tag(matrix, registry):
    for printed in matrix.values():
        repo, _, digest = printed.partition("@")
        assert repo == f"{registry.host}/fan/hello-world" and digest.startswith("sha256:")
    # No tag names an image. distribution 2.8 has no referrers API, so the SBOM each job attached
    # is listed under its image's fallback tag, as the distribution spec asks of clients.
    fallback = sorted(f"sha256-{p.partition('@sha256:')[2]}" for p in matrix.values())
    assert sorted(_tags(registry.host, "fan/hello-world")) == fallback


def _referrers(ref: str) -> list[str]:
    return [r["digest"] for r in json.loads(_oras("discover", "--plain-http", "--format", "json", ref))["referrers"]]


def _tags(host: str, repository: str) -> list[str]:
    """The repository's tags; distribution answers NAME_UNKNOWN while it holds untagged manifests only."""
    try:
        with urllib.request.urlopen(f"http://{host}/v2/{repository}/tags/list", timeout=10) as resp:
            return json.loads(resp.read())["tags"] or []
    except urllib.error.HTTPError as exc:
        assert exc.code == 404 and b"NAME_UNKNOWN" in exc.read()
        return []


def test_index_create_merges_the_matrix_and_carries_referrers(matrix, registry, tmp_path):
    amd64 = matrix["linux/amd64"]
    built_sboms = {p: _referrers(ref) for p, ref in matrix.items()}  # what each job attached itself
    assert all(len(found) == 1 for found in built_sboms.values())
    sbom_file = tmp_path / "sbom.json"
    sbom_file.write_text('{"spdxVersion": "SPDX-2.3"}')
    attached = json.loads(_oras("attach", "--plain-http", amd64, "--artifact-type", "application/spdx+json",
                                "--format", "json", "--disable-path-validation", str(sbom_file)))["digest"]
    # Into another repository of the registry: blobs mounted, nothing uploaded, referrers along.
    target = f"{registry.host}/fan/release:v1"
    out = json.loads(leango("index", "create", target, *matrix.values(), "--json",
                            "--annotation", "index:org.opencontainers.image.description=merged").stdout)
    assert out["reference"].startswith(target + "@")
    assert {(m["platform"], f"{registry.host}/fan/hello-world@{m['digest']}") for m in out["manifests"]} == \
        set(matrix.items())
    assert sorted(out["referrers"]) == sorted([attached, *built_sboms["linux/amd64"], *built_sboms["linux/arm64"]])
    assert out["pushed"]["uploaded"] <= 1 and out["pushed"]["mounted"] >= 3  # at most the SBOM's own blob
    subprocess.run([require_go_tool("crane"), "validate", "--insecure", "--remote", target], check=True,
                   capture_output=True)
    raw = json.loads(subprocess.run([require("skopeo"), "inspect", "--raw", "--tls-verify=false",
                                     f"docker://{target}"], capture_output=True, check=True, text=True).stdout)
    assert sorted(f"{m['platform']['os']}/{m['platform']['architecture']}" for m in raw["manifests"]) == \
        list(PLATFORMS)
    assert raw["annotations"] == {"org.opencontainers.image.description": "merged"}
    amd64_digest = amd64.partition("@")[2]
    assert sorted(_referrers(f"{registry.host}/fan/release@{amd64_digest}")) == \
        sorted([attached, *built_sboms["linux/amd64"]])


def test_append_adds_a_platform_and_replaces_one_run_again(matrix, registry):
    target = f"{registry.host}/fan/appended:v1"
    first = json.loads(leango("index", "create", target, matrix["linux/amd64"], "--json").stdout)
    assert [m["platform"] for m in first["manifests"]] == ["linux/amd64"]
    both = json.loads(leango("index", "create", "--append", target, matrix["linux/arm64"], "--json").stdout)
    assert [m["platform"] for m in both["manifests"]] == list(PLATFORMS)
    # The same platform again replaces rather than duplicates; without --append the index is new.
    again = json.loads(leango("index", "create", "--append", target, matrix["linux/arm64"], "--json").stdout)
    assert again["digest"] == both["digest"]
    only = json.loads(leango("index", "create", target, matrix["linux/arm64"], "--json").stdout)
    assert [m["platform"] for m in only["manifests"]] == ["linux/arm64"]


@pytest.mark.parametrize("args,code,message", [
    (["--annotation", "manifest:k=v"], 2, "only the index's own annotations"),
    (["--annotation", "novalue"], 2, "expected [index:]KEY=VALUE"),
])
def test_bad_annotations_are_bad_input(matrix, registry, args, code, message):
    proc = leango("index", "create", f"{registry.host}/fan/bad:v1", matrix["linux/amd64"], *args, check=False)
    assert proc.returncode == code and message in proc.stderr


def test_sources_that_are_not_images_or_elsewhere_fail_naming_them(matrix, registry, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("not an image")
    _oras("push", "--plain-http", f"{registry.host}/fan/note:v1", f"{note}:text/plain", "--disable-path-validation")
    proc = leango("index", "create", f"{registry.host}/fan/bad:v1", f"{registry.host}/fan/note:v1", check=False)
    assert proc.returncode == 1 and "is an artifact" in proc.stderr
    proc = leango("index", "create", f"{registry.host}/fan/bad:v1", "other.example/app@sha256:" + "0" * 64,
                  check=False)
    assert proc.returncode == 1 and "not on" in proc.stderr
    # The same sources that are images are accepted (the refusals above can be told apart).
    assert leango("index", "create", f"{registry.host}/fan/good:v1", matrix["linux/amd64"]).returncode == 0
