"""Registries for the push tests: real distribution servers, a fault proxy, a fake."""

from __future__ import annotations

import base64
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from leango.oci.registry.client import Registry
from leango.oci.registry.credentials import CredentialSources
from leango.oci.registry.transport import RegistryOptions
from leango.oci.sinks.registry import push
from support.clock import instant_retry
from support.fakeregistry import Behaviour, FakeRegistry
from support.faultproxy import FaultProxy
from support.registry import PASSWORD, USER, RealRegistry, make_htpasswd
from support.tlsca import make_ca


@pytest.fixture(scope="session")
def registry_ca(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("registry-ca"))


@pytest.fixture(scope="session")
def secure_registry(tmp_path_factory, registry_ca) -> RealRegistry:
    """TLS with a test CA and htpasswd Basic auth."""
    base = tmp_path_factory.mktemp("secure-registry")
    htpasswd = make_htpasswd(base / "htpasswd", USER, PASSWORD)
    reg = RealRegistry(base, tls=(registry_ca.server_cert, registry_ca.server_key), htpasswd=htpasswd)
    yield reg
    reg.stop()


@pytest.fixture
def proxy(registry):
    p = FaultProxy(registry.host)
    yield p
    p.close()


@pytest.fixture
def fast_options():
    """Retries that keep tests quick but still go through every code path."""
    return RegistryOptions(connect_timeout=2, read_timeout=3, retry=instant_retry(4))


@pytest.fixture
def do_push():
    def run(artifact, refs, *, sources=None, options=None, **kw):
        from leango.oci import parse_reference
        refs = [parse_reference(r) if isinstance(r, str) else r for r in refs]
        return push(artifact, refs, credentials=sources or CredentialSources(),
                    options=options or RegistryOptions(), **kw)
    return run


@pytest.fixture
def fake():
    """fake(**behaviour) starts an in-process fake registry (fake(cls=Subclass, ...) one that
    misbehaves its own way); every one started is closed after the test."""
    made = []

    def make(cls=FakeRegistry, **kw):
        f = cls(Behaviour(**kw))
        made.append(f)
        return f
    yield make
    for f in made:
        f.close()


@pytest.fixture(scope="session")
def v3_registry(tmp_path_factory, registry_ca) -> RealRegistry:
    """distribution v3, with TLS from the test CA and htpasswd Basic auth."""
    base = tmp_path_factory.mktemp("v3-registry")
    htpasswd = make_htpasswd(base / "htpasswd", USER, PASSWORD)
    reg = RealRegistry(base, tls=(registry_ca.server_cert, registry_ca.server_key), htpasswd=htpasswd, v3=True)
    yield reg
    reg.stop()


@dataclass
class RegistrySetup:
    """One real registry and how a client reaches it: the same assertions hold for each, and what
    one cannot do (the referrers API, accounts) is a property the tests branch on, never a skip."""
    name: str
    host: str
    referrers_api: bool
    mount: bool  # honours a cross-repository mount (go-containerregistry's opens an upload instead)
    tag_paging: bool  # pages the tag list by ?n= and Link (docker-registry 2.8 answers with every tag)
    ca: Path | None = None  # TLS verified against this CA; None: plain HTTP on loopback
    authfile: Path | None = None  # an auth.json with the account; None: the registry has no auth
    home: Path | None = None  # an isolated HOME for the CLI

    @property
    def auth(self) -> bool:
        return self.authfile is not None

    def options(self, **kw) -> RegistryOptions:
        return RegistryOptions(ca_file=self.ca, retry=instant_retry(3), **kw)

    def credentials(self) -> CredentialSources:
        return CredentialSources(auth_files=(self.authfile,) if self.authfile else ())

    def client(self) -> Registry:
        return Registry(self.credentials(), self.options())

    def env(self) -> dict[str, str]:
        """The CLI's environment: its own HOME, and the account's auth.json where there is one."""
        env = {"HOME": str(self.home), "XDG_CONFIG_HOME": str(self.home / ".config"),
               "DOCKER_CONFIG": str(self.home / ".docker"), "XDG_RUNTIME_DIR": str(self.home / "run")}
        if self.authfile:
            env["REGISTRY_AUTH_FILE"] = str(self.authfile)
        return env

    def flags(self) -> list[str]:
        """The CLI's registry flags."""
        return ["--registry-ca", str(self.ca)] if self.ca else []

    def skopeo(self) -> list[str]:
        """skopeo's flags for docker:// references on this registry (its --cert-dir wants *.crt)."""
        args = ["--tls-verify=false"]
        if self.ca:
            certs = self.home / "certs"
            certs.mkdir(exist_ok=True)
            shutil.copy(self.ca, certs / "ca.crt")
            args = [f"--cert-dir={certs}"]
        return args + ([f"--authfile={self.authfile}"] if self.authfile else [])


# The four real registry set-ups every registry test in test_every_registry.py runs against.
SETUPS = ("distribution-2.8", "distribution-3-tls-auth", "ggcr-referrers", "ggcr")


@pytest.fixture(params=SETUPS)
def every_registry(request, registry_ca, tmp_path_factory) -> RegistrySetup:
    home = tmp_path_factory.mktemp("home")
    (home / "run").mkdir()
    if request.param == "distribution-2.8":
        return RegistrySetup(request.param, request.getfixturevalue("registry").host, False, True, False,
                             home=home)
    if request.param == "distribution-3-tls-auth":
        reg = request.getfixturevalue("v3_registry")
        authfile = home / "auth.json"
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        authfile.write_text(json.dumps({"auths": {reg.host: {"auth": token}}}))
        return RegistrySetup(request.param, reg.host, False, True, True, ca=registry_ca.ca_cert,
                             authfile=authfile, home=home)
    reg = request.getfixturevalue("referrers_registry" if request.param == "ggcr-referrers" else "ggcr_registry")
    return RegistrySetup(request.param, reg.host, request.param == "ggcr-referrers", False, False, home=home)
