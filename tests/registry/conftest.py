"""Registries for the push tests: real distribution servers, a fault proxy, a fake."""

from __future__ import annotations

import pytest

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
