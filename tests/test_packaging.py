"""The wheel users install: only `leango/` (and its dist-info), every subpackage, a clean `pip check`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from support.paths import REPO

WHEEL_SOURCES = ("pyproject.toml", "setup.py", "README.md", "leango", "oci", "builder")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build from a copy of the checkout, so the build leaves nothing in it."""
    src = tmp_path_factory.mktemp("src")
    for name in WHEEL_SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, src / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps",
                    "-w", str(out), str(src)], check=True, capture_output=True, text=True, timeout=300)
    [whl] = out.glob("leango-*.whl")
    return whl


def test_wheel_holds_nothing_outside_leango(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"leango", wheel.name.split("-py3")[0] + ".dist-info"}, sorted(tops)
    top_level = next(n for n in names if n.endswith("top_level.txt"))
    assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["leango"]


def test_wheel_holds_every_package_of_the_checkout(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for top in ("oci", "builder"):
        for init in (REPO / top).rglob("__init__.py"):
            rel = init.relative_to(REPO).as_posix()
            assert f"leango/{rel}" in names, f"{rel} is not in the wheel"
        for module in (REPO / top).rglob("*.py"):
            assert f"leango/{module.relative_to(REPO).as_posix()}" in names
    assert "leango/py.typed" in names and "leango/__main__.py" in names


def test_wheel_entry_point(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "leango = leango.builder.cli:main" in entry


def test_pip_check_passes():
    proc = subprocess.run([sys.executable, "-m", "pip", "check", "--disable-pip-version-check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
