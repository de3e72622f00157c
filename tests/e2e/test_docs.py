"""The docs' recipes run as written: each `<!-- recipe: NAME -->` block of docs/ci.md and
docs/airgap.md is extracted and its shell steps run against the local registry, podman and
containerd. CI recipes are YAML: their jobs run in order, a matrix job once per entry, each job in
a fresh checkout of its own (a copy of fixtures/multi-cmd) and its own process, artifacts carried
between jobs as the CI system does; the runner's setup steps (apt-get, pip) are skipped — leango is
installed here — and every other step runs. The example hosts (ghcr.io, registry.internal) stand
for the local registry."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support.cli import leango_argv
from support.paths import FIXTURES, REPO
from support.tools import require, require_go_tool

SETUP = re.compile(r"apt-get install|pip install")  # the runner's setup: leango is installed here


def recipes(doc: Path) -> dict[str, str]:
    text = doc.read_text()
    found = dict(re.findall(r"<!-- recipe: ([\w-]+) -->\n```\w+\n(.*?)\n```", text, re.S))
    assert found, f"no recipe in {doc}"
    return found


def checkout(base: Path, name: str) -> Path:
    work = base / name
    shutil.copytree(FIXTURES / "multi-cmd", work)
    return work


def shell(script: str, cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, f"{script}\nexited {proc.returncode}:\n{proc.stderr}"
    return proc.stdout


def machine(base: Path) -> dict[str, str]:
    """The environment of a runner of its own: its home (leango login writes auth.json there) and
    its cache directory."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LEANGO_REPO", "REGISTRY_AUTH_FILE")}
    env["PATH"] = f"{Path(leango_argv()[0]).parent}:{env['PATH']}"  # leango, as the runner installed it
    for name in ("home", "run", "cache"):
        (base / name).mkdir(parents=True, mode=0o700)
    return env | {"HOME": str(base / "home"), "XDG_RUNTIME_DIR": str(base / "run"), "XDG_CACHE_HOME": str(base / "cache")}


def index_platforms(registry, ref: str) -> list[str]:
    crane = require_go_tool("crane")
    subprocess.run([crane, "validate", "--insecure", "--remote", ref], check=True, capture_output=True, text=True)
    doc = json.loads(subprocess.run([crane, "manifest", "--insecure", ref], check=True, capture_output=True,
                                    text=True).stdout)
    return sorted(f"{m['platform']['os']}/{m['platform']['architecture']}" for m in doc["manifests"])


def test_the_github_actions_matrix_then_merge(registry, tmp_path):
    from ruamel.yaml import YAML
    jobs = YAML(typ="safe").load(recipes(REPO / "docs" / "ci.md")["github-matrix"])["jobs"]
    context = {"secrets.GITHUB_TOKEN": "token", "github.actor": "ci-bot", "github.repository": "team/shop",
               "github.sha": "0123456789abcdef"}
    artifacts = tmp_path / "artifacts"
    ran = []
    for name, job in jobs.items():  # in order: merge needs build
        matrix = (job.get("strategy") or {}).get("matrix") or {}
        entries = [{f"matrix.{k}": v} for k, values in matrix.items() for v in values] or [{}]
        for index, entry in enumerate(entries):
            values = context | entry | {"strategy.job-index": str(index)}

            def expand(text: str, values: dict[str, str] = values) -> str:
                def one(m):
                    assert m.group(1) in values, f"the recipe uses ${{{{ {m.group(1)} }}}}, not emulated here"
                    return values[m.group(1)]
                return re.sub(r"\$\{\{\s*([\w.-]+)\s*\}\}", one, text).replace("ghcr.io", registry.host)
            work = checkout(tmp_path, f"{name}-{index}")
            env = machine(tmp_path / f"{name}-{index}-runner")
            for step in job["steps"]:
                if "run" in step:
                    if not SETUP.search(step["run"]):
                        shell(expand(step["run"]), work, env)
                        ran.append(step["run"].split()[0])
                elif step["uses"].startswith("actions/upload-artifact"):
                    shutil.copytree(work / step["with"]["path"], artifacts / expand(step["with"]["name"]))
                elif step["uses"].startswith("actions/download-artifact"):
                    assert step["with"].get("merge-multiple")
                    dest = work / step["with"]["path"]
                    dest.mkdir()
                    for each in artifacts.glob(step["with"]["pattern"]):
                        for f in each.iterdir():
                            shutil.copy(f, dest / f.name)
    assert len(ran) == 2 * 2 + 2  # each build job's login and build, the merge job's login and index create
    target = f"{registry.host}/team/shop/api:0123456789abcdef"
    assert index_platforms(registry, target) == ["linux/amd64", "linux/arm64"]


def test_the_gitlab_matrix_then_merge(registry, tmp_path):
    from ruamel.yaml import YAML
    jobs = YAML(typ="safe").load(recipes(REPO / "docs" / "ci.md")["gitlab-matrix"])
    image = f"{registry.host}/team/shop"
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    for name, job in jobs.items():
        entries = [{k: v} for m in (job.get("parallel") or {}).get("matrix", []) for k, vs in m.items() for v in vs]
        for index, entry in enumerate(entries or [{}]):
            work = checkout(tmp_path, f"{name}-{index}")
            for need in job.get("needs", []):  # the artifacts of the jobs it needs
                for f in artifacts.glob(f"{need}-*/**/*"):
                    if f.is_file():
                        target = work / f.relative_to(next(p for p in f.parents if p.parent == artifacts))
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy(f, target)
            predefined = {"CI_PROJECT_DIR": str(work), "CI_REGISTRY": registry.host, "CI_REGISTRY_IMAGE": image,
                          "CI_REGISTRY_USER": "ci-bot", "CI_REGISTRY_PASSWORD": "token",
                          "CI_COMMIT_SHORT_SHA": "0123abcd"}
            env = machine(tmp_path / f"{name}-{index}-runner") | predefined | entry
            for key, value in (job.get("variables") or {}).items():
                env[key] = re.sub(r"\$(\w+)", lambda m, env=env: env[m.group(1)], value)
            shell("\n".join(job["script"]), work, env)
            for path in (job.get("artifacts") or {}).get("paths", []):
                shutil.copytree(work / path, artifacts / f"{name}-{index}" / path)
    assert index_platforms(registry, f"{image}/api:0123abcd") == ["linux/amd64", "linux/arm64"]


@pytest.fixture
def airgap_env(tmp_path, registry, containerd):
    require("podman")
    conf = tmp_path / "storage.conf"
    conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{tmp_path / "podman"}"\nrunroot = "{tmp_path / "prun"}"\n')
    return machine(tmp_path / "runner") | {"CONTAINERS_STORAGE_CONF": str(conf),
                                           "CONTAINERD_ADDRESS": str(containerd.socket)}


def test_the_air_gap_recipes(registry, containerd, airgap_env, tmp_path):
    blocks = recipes(REPO / "docs" / "airgap.md")
    work = checkout(tmp_path, "outside")
    out = shell(blocks["airgap-registry"].replace("registry.internal", registry.host), work, airgap_env)
    assert "api.tar: OK" in out
    ref = f"{registry.host}/team/api:v1"
    assert index_platforms(registry, ref) == ["linux/amd64", "linux/arm64"]
    assert "application/spdx+json" in out and "application/vnd.in-toto+json" in out  # inspect lists them

    shell(blocks["airgap-nodes"].replace("registry.internal", registry.host), work, airgap_env)
    found = subprocess.run(["podman", "image", "inspect", ref], env=airgap_env, capture_output=True, text=True)
    assert found.returncode == 0 and json.loads(found.stdout)[0]["Architecture"] == "amd64"
    rows = containerd.ctr_cmd("-n", "k8s.io", "images", "ls").stdout.splitlines()[1:]
    assert [r.split()[-2] for r in rows if r.split()[0] == ref] == ["linux/amd64,linux/arm64"]


def test_the_readmes_tour(registry, tmp_path):
    tour = recipes(REPO / "README.md")["tour"]
    work = checkout(tmp_path, "shop")
    script = tour.replace("registry.example.com", registry.host).replace("example.com/shop", "example.com/multi")
    shell(script, work, machine(tmp_path / "runner"))
    assert (work / "leango-out" / "api" / "index.json").is_file() and (work / "api.tar").is_file()
    pushed = subprocess.run([require_go_tool("crane"), "digest", "--insecure", f"{registry.host}/team/api:v1"],
                            check=True, capture_output=True, text=True).stdout.strip()
    resolved = (work / "deploy.resolved.yaml").read_text()
    assert f"image: {registry.host}/team/api@{pushed} # replaced by the pushed ref@digest" in resolved
