"""leango resolve end to end: each leango:// import path built once and pushed to the real
registry, the YAML given back with the digests and everything else as it was."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

from support.cli import leango
from support.paths import FIXTURES
from support.tools import require, require_go_tool

DEPLOY = """\
# api and worker of the shop
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    spec:
      containers:
        - name: api
          image: "leango://example.com/multi/cmd/api" # built by leango
        - name: worker
          image: leango://example.com/multi/cmd/worker
"""
VALUES = "---\nimage: 'leango://example.com/multi/cmd/api'\nreplicas: 2\n"


def test_resolve_builds_each_import_path_once_and_keeps_the_yaml(registry, tmp_path, cache_dir):
    require("buildah")
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "shop.yaml").write_text(DEPLOY)
    (tmp_path / "values.yaml").write_text(VALUES)
    repo = f"{registry.host}/shop"
    # The repository and a label of this test's own come from leango.toml, as ko resolve reads
    # .ko.yaml (the label also keeps other tests' builds of multi-cmd from being reused here).
    work = tmp_path / "multi"
    shutil.copytree(FIXTURES / "multi-cmd", work)
    (work / "leango.toml").write_text(f'repository = "{repo}"\nlabels = {{ "test" = "{tmp_path.name}" }}\n')
    proc = leango("resolve", "-f", tmp_path / "deploy", "-f", tmp_path / "values.yaml", "-t", "v1",
                  "--cache-dir", cache_dir, cwd=work)
    crane = require_go_tool("crane")
    digests = {}
    for name in ("api", "worker"):
        digests[name] = subprocess.run([crane, "digest", "--insecure", f"{repo}/{name}:v1"], capture_output=True,
                                       text=True, check=True).stdout.strip()
    api, worker = (f"{repo}/{n}@{digests[n]}" for n in ("api", "worker"))
    assert proc.stdout == (DEPLOY.replace("leango://example.com/multi/cmd/api", api)
                           .replace("leango://example.com/multi/cmd/worker", worker)
                           + VALUES.replace("leango://example.com/multi/cmd/api", api))
    assert proc.stderr.count("compiling example.com/multi/cmd/api") == 1  # once, though named twice
    assert "resolved 3 reference(s) to 2 image(s)" in proc.stderr
    # The same from stdin, and the pushed image is what the YAML names.
    piped = leango("resolve", "-f", "-", "--repo", repo, "-t", "v1", "--cache-dir", cache_dir,
                   cwd=work, input=VALUES)
    assert piped.stdout == VALUES.replace("leango://example.com/multi/cmd/api", api)
    config = json.loads(subprocess.run([crane, "config", "--insecure", api], capture_output=True, text=True,
                                       check=True).stdout)
    assert config["config"]["Entrypoint"] == ["/api"] and config["config"]["Labels"]["test"] == tmp_path.name


def test_resolve_names_what_it_cannot_resolve(tmp_path, cache_dir, registry):
    (tmp_path / "bad.yaml").write_text("a: 1\nimage: leango://example.com/multi/cmd/nothing\n")
    proc = leango("resolve", "-f", tmp_path / "bad.yaml", "--repo", f"{registry.host}/shop", "--cache-dir",
                  cache_dir, cwd=FIXTURES / "multi-cmd", check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"{tmp_path / 'bad.yaml'}:2: leango://example.com/multi/cmd/nothing: no Go package at" in proc.stderr
    env = {k: v for k, v in os.environ.items() if k != "LEANGO_REPO"}
    (tmp_path / "good.yaml").write_text("image: leango://example.com/multi/cmd/api\n")
    proc = leango("resolve", "-f", tmp_path / "good.yaml", cwd=FIXTURES / "multi-cmd", env=env, check=False)
    assert proc.returncode == 2 and "give --repo REPO, set LEANGO_REPO or repository in leango.toml" in proc.stderr
    # Nothing to resolve: the YAML comes back as it was, and nothing is built.
    (tmp_path / "plain.yaml").write_text("a: 1  # one\n")
    proc = leango("resolve", "-f", tmp_path / "plain.yaml", "--repo", f"{registry.host}/shop",
                  cwd=FIXTURES / "multi-cmd")
    assert proc.stdout == "a: 1  # one\n" and "compiling" not in proc.stderr
