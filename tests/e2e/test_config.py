"""leango.toml end to end: found at the module root, its defaults and its per-image section reaching
the image (read back by skopeo and by running it), flags winning, the no-change record following
the file, and `leango config` saying where each value came from."""

from __future__ import annotations

import json
import os
import shutil

from support.cli import leango
from support.paths import FIXTURES
from support.peers import Buildah, skopeo_inspect

TOML = """\
# the greeter's settings
platforms = ["linux/amd64"]
user = "1000:1000"
labels = { team = "greeters" }

[images."example.com/nested/cmd/greeter"]
binary-name = "greet"
ldflags = "-X main.version={{ .Env.GREET_VERSION }}"
runtime-env = { MODE = "prod" }
"""


def _config(archive) -> dict:
    return skopeo_inspect(f"oci-archive:{archive}", extra=["--config"])["config"]


def test_the_file_shapes_the_image_and_flags_win(tmp_path, cache_dir):
    module = tmp_path / "nested"
    shutil.copytree(FIXTURES / "nested", module)
    (module / "leango.toml").write_text(TOML)
    env = {**os.environ, "GREET_VERSION": "v9"}
    archive = tmp_path / "greet.tar"
    args = ["build", "./cmd/greeter", "--oci-archive", archive, "--cache-dir", cache_dir, "--json"]
    built = json.loads(leango(*args, "--label", "extra=1", cwd=module, env=env).stdout)
    assert built["binary"] == "greet"
    cfg = _config(archive)
    assert cfg["User"] == "1000:1000" and cfg["Entrypoint"] == ["/greet"]
    assert cfg["Labels"] == {"team": "greeters", "extra": "1"}
    assert "MODE=prod" in cfg["Env"]
    ran = Buildah(tmp_path / "b").run_image(f"oci-archive:{archive}", "/greet")
    assert ran.stdout == "Greetings from nested v9\n"  # the section's templated ldflags, compiled in

    # Unchanged: reused. The file changed: built again, and the image follows it.
    again = leango(*args, "--label", "extra=1", cwd=module, env=env)
    assert "nothing changed" in again.stderr
    (module / "leango.toml").write_text(TOML.replace('MODE = "prod"', 'MODE = "staging"'))
    changed = leango(*args, "--label", "extra=1", cwd=module, env=env)
    assert "nothing changed" not in changed.stderr
    assert "MODE=staging" in _config(archive)["Env"]

    # Flags win over the file, the section's keys too.
    flagged = json.loads(leango(*args, "--user", "2000:2000", "--ldflags", "-X main.version=flag", "--label",
                                "team=cli", "--binary-name", "hi", cwd=module, env=env).stdout)
    assert flagged["binary"] == "hi"
    cfg = _config(archive)
    assert cfg["User"] == "2000:2000" and cfg["Labels"] == {"team": "cli"}
    ran = Buildah(tmp_path / "b2").run_image(f"oci-archive:{archive}", "/hi")
    assert ran.stdout == "Greetings from nested flag\n"
    # --config names another file; the template's variable unset is an error naming the key
    other = tmp_path / "other.toml"
    other.write_text('platforms = ["linux/arm64"]\n')
    arm = json.loads(leango(*args, "--config", other, cwd=module).stdout)
    assert [i["platform"] for i in arm["images"]] == ["linux/arm64"]
    unset = leango(*args, cwd=module, env={k: v for k, v in env.items() if k != "GREET_VERSION"}, check=False)
    assert unset.returncode == 2
    assert ('leango.toml [images."example.com/nested/cmd/greeter"] ldflags: {{ .Env.GREET_VERSION }} names '
            "GREET_VERSION, which is not set") in unset.stderr


def test_a_bad_file_stops_before_anything_runs_and_config_shows_origins(tmp_path, cache_dir):
    module = tmp_path / "nested"
    shutil.copytree(FIXTURES / "nested", module)
    path = module / "leango.toml"
    path.write_text(TOML.replace("binary-name", "binary"))
    proc = leango("build", "./cmd/greeter", "--cache-dir", cache_dir, cwd=module, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert f'{path}:7: [images."example.com/nested/cmd/greeter"] binary: unknown key' in proc.stderr
    assert "compiling" not in proc.stderr
    bad = leango("config", "./cmd/greeter", cwd=module, check=False)
    assert bad.returncode == 2 and f"{path}:7:" in bad.stderr

    path.write_text(TOML)
    shown = leango("config", "./cmd/greeter", cwd=module, env={**os.environ, "LEANGO_REPO": "reg.example/team"})
    lines = shown.stdout.splitlines()
    assert lines[0] == f"# {path}"
    assert 'repository = "reg.example/team"  # LEANGO_REPO' in lines
    assert 'user = "1000:1000"  # leango.toml:3' in lines
    assert 'compression = "gzip"  # default' in lines
    assert 'ldflags = "-X main.version={{ .Env.GREET_VERSION }}"  # leango.toml:8' in lines
    as_json = json.loads(leango("config", "--json", cwd=module / "cmd", env={
        k: v for k, v in os.environ.items() if k != "LEANGO_REPO"}).stdout)
    assert as_json["file"] == str(path)
    assert as_json["settings"]["labels"] == {"value": {"team": "greeters"}, "from": "leango.toml:4"}
    assert as_json["settings"]["repository"]["from"] == "default"
    assert as_json["images"]["example.com/nested/cmd/greeter"]["runtime-env"] == {
        "value": {"MODE": "prod"}, "from": "leango.toml:9"}
    none = leango("config", cwd=FIXTURES / "hello-world")
    assert none.stdout.startswith("# no leango.toml (built-in defaults)")
