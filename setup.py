"""Package discovery for the `leango.*` namespace (metadata lives in pyproject.toml).

The repository keeps `oci/` and `builder/` at its root; installed they become
`leango.oci` and `leango.builder`, since the top-level names `oci` (Oracle's cloud
SDK) and `builder` are taken on PyPI. Subpackages are found, not listed by hand,
so a new one cannot be left out of the wheel.
"""

from setuptools import find_packages, setup


def namespaced(top: str) -> list[str]:
    return [f"leango.{name}" for name in find_packages(include=[top, f"{top}.*"])]


setup(
    packages=["leango", *namespaced("oci"), *namespaced("builder")],
    package_dir={"leango": "leango", "leango.oci": "oci", "leango.builder": "builder"},
    package_data={"leango": ["py.typed"]},
)
