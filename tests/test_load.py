"""--load's targets: what is accepted, what is refused, and the names a loaded image gets."""

from __future__ import annotations

import pytest

from leango.builder.errors import SpecError
from leango.builder.load import LoadTarget, default_name
from leango.builder.spec import Outputs


@pytest.mark.parametrize(("text", "store", "namespace"), [
    ("podman", "podman", ""), ("containerd", "containerd", "default"),
    ("containerd=k8s.io", "containerd", "k8s.io"), ("containerd=my_ns-1", "containerd", "my_ns-1"),
])
def test_targets_accepted(text, store, namespace):
    target = LoadTarget.parse(text)
    assert (target.store, target.namespace) == (store, namespace)
    assert str(target) == (text if "=" in text or store == "podman" else "containerd=default")


@pytest.mark.parametrize(("text", "said"), [
    ("docker", "unknown --load target 'docker'"), ("Podman", "unknown --load target 'Podman'"),
    ("podman=x", "--load podman=x: podman takes no namespace"),
    ("containerd=", "invalid containerd namespace ''"), ("containerd=a/b", "invalid containerd namespace 'a/b'"),
])
def test_targets_refused(text, said):
    with pytest.raises(SpecError) as info:
        LoadTarget.parse(text)
    assert str(info.value).startswith(said)


def test_outputs_take_each_store_once_and_count_as_an_output():
    assert Outputs(load=("podman", "containerd=k8s.io")).any
    assert Outputs(load="podman").load == ("podman",)
    assert not Outputs().any
    with pytest.raises(SpecError, match="names one store twice"):
        Outputs(load=("containerd", "containerd=k8s.io"))


def test_default_name_is_podmans_local_convention():
    assert str(default_name("api")) == "localhost/api:latest"
