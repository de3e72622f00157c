"""What goes into the image besides the binary: labels, annotations, runtime env, args, working
directory, ports, stop signal, data files and the time zone database. Each reaches the image
(read back with skopeo), works in a running container, and is part of the no-change key."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from support.cli import leango
from support.paths import FIXTURES
from support.peers import Buildah
from support.tools import require

SETTINGS = ("--label", "org.opencontainers.image.title=datafiles", "--annotation", "dev.example.note=manifest",
            "--runtime-env", "MODE=prod", "--arg", "--port=8080", "--arg", "two words", "--workdir", "/var/run",
            "--expose", "8080", "--expose", "53/udp", "--stop-signal", "SIGINT")


def _skopeo(*args: str) -> dict:
    return json.loads(subprocess.run([require("skopeo"), "inspect", *args], capture_output=True, text=True,
                                     check=True).stdout)


@pytest.fixture(scope="module")
def built(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("settings")
    src = out / "datafiles"
    shutil.copytree(FIXTURES / "datafiles", src, symlinks=True)
    proc = leango("build", src, "--cache-dir", cache_dir, "--oci-archive", out / "app.tar", "--zoneinfo",
                  "--json", *SETTINGS)
    return out, src, json.loads(proc.stdout)


def test_every_setting_reaches_the_image(built):
    out, _, _ = built
    config = _skopeo("--config", f"oci-archive:{out / 'app.tar'}")["config"]
    assert config["Labels"] == {"org.opencontainers.image.title": "datafiles"}
    assert config["Cmd"] == ["--port=8080", "two words"] and config["Entrypoint"] == ["/datafiles"]
    assert config["WorkingDir"] == "/var/run" and config["StopSignal"] == "SIGINT"
    assert config["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert "MODE=prod" in config["Env"] and "LEANGO_DATA_PATH=/var/run/leango/data" in config["Env"]
    assert "ZONEINFO=/usr/share/go/zoneinfo.zip" in config["Env"]
    manifest = _skopeo("--raw", f"oci-archive:{out / 'app.tar'}")
    assert manifest["annotations"] == {"dev.example.note": "manifest"}
    assert len(manifest["layers"]) == 3  # base, app, data


def test_the_data_file_and_a_time_zone_work_in_a_running_container(built, tmp_path):
    out, _, _ = built
    ran = Buildah(tmp_path / "b").run_image(f"oci-archive:{out / 'app.tar'}", "/datafiles", "x")
    assert ran.stdout.splitlines() == ["data: hello from the data directory", "zone: 09:00 JST", "args: [x]"]


def test_without_zoneinfo_the_lookup_fails_in_scratch(built, tmp_path, cache_dir):
    _, src, _ = built
    leango("build", src, "--cache-dir", cache_dir, "--oci-archive", tmp_path / "nozone.tar")
    ran = Buildah(tmp_path / "b").run_image(f"oci-archive:{tmp_path / 'nozone.tar'}", "/datafiles", check=False)
    assert ran.returncode == 1 and "zone: unknown time zone Asia/Tokyo" in ran.stdout


def test_each_setting_is_in_the_no_change_key(built, tmp_path, cache_dir):
    _, src, result = built
    again = leango("build", src, "--cache-dir", cache_dir, "--oci-archive", tmp_path / "same.tar", "--zoneinfo",
                   "--json", *SETTINGS)
    assert json.loads(again.stdout)["digest"] == result["digest"] and "nothing changed" in again.stderr
    other = leango("build", src, "--cache-dir", cache_dir, "--oci-archive", tmp_path / "other.tar", "--zoneinfo",
                   "--json", *SETTINGS, "--label", "org.opencontainers.image.title=renamed")
    assert json.loads(other.stdout)["digest"] != result["digest"] and "nothing changed" not in other.stderr
    (src / "leango-data" / "sub" / "new-empty-dir").mkdir()
    edited = leango("build", src, "--cache-dir", cache_dir, "--oci-archive", tmp_path / "edited.tar", "--zoneinfo",
                    "--json", *SETTINGS)
    assert json.loads(edited.stdout)["digest"] != result["digest"] and "nothing changed" not in edited.stderr
    (src / "leango-data" / "sub" / "new-empty-dir").rmdir()


def test_index_annotations_go_on_the_index(tmp_path, cache_dir):
    leango("build", FIXTURES / "hello-world", "--cache-dir", cache_dir, "--platform", "linux/amd64,linux/arm64",
           "--oci-layout", tmp_path / "lay", "-t", "localhost/multi:v1", "--annotation", "index:dev.example.k=v",
           "--annotation", "dev.example.m=each")
    index = json.loads((tmp_path / "lay" / "index.json").read_text())["manifests"][0]
    raw = json.loads((tmp_path / "lay" / "blobs" / "sha256" / index["digest"].split(":")[1]).read_text())
    assert raw["annotations"] == {"dev.example.k": "v"}
    for child in raw["manifests"]:
        manifest = json.loads((tmp_path / "lay" / "blobs" / "sha256" / child["digest"].split(":")[1]).read_text())
        assert manifest["annotations"] == {"dev.example.m": "each"}


@pytest.mark.parametrize("target", ["../../outside.txt", "/etc/passwd"])
def test_a_data_link_leaving_the_directory_is_refused(tmp_path, cache_dir, target):
    data = tmp_path / "data"
    data.mkdir()
    (data / "inside.txt").write_text("ok")
    (data / "fine").symlink_to("inside.txt")
    (data / "escape").symlink_to(target)
    proc = leango("build", FIXTURES / "hello-world", "--cache-dir", cache_dir, "--data", data,
                  "--oci-layout", tmp_path / "lay", check=False)
    assert proc.returncode == 2 and "escape links to" in proc.stderr and "outside the directory" in proc.stderr
    (data / "escape").unlink()  # the same directory without it is accepted (the link inside stays)
    assert leango("build", FIXTURES / "hello-world", "--cache-dir", cache_dir, "--data", data,
                  "--oci-layout", tmp_path / "lay").returncode == 0


@pytest.mark.parametrize("args,message", [
    (["--expose", "70000"], "PORT 1-65535"),
    (["--expose", "80/http"], "PORT[/tcp|udp|sctp]"),
    (["--workdir", "relative"], "must be an absolute path"),
    (["--runtime-env", "1BAD=x"], "invalid --runtime-env name"),
    (["--label", "novalue"], "is not KEY=VALUE"),
    (["--stop-signal", "sigint; rm"], "a signal name"),
])
def test_bad_settings_are_bad_input(tmp_path, args, message):
    proc = leango("build", FIXTURES / "hello-world", "--oci-layout", tmp_path / "lay", *args, check=False)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
