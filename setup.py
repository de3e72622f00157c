"""Package discovery for the `leango.*` namespace (metadata lives in pyproject.toml).

The repository keeps `oci/` and `builder/` at its root; `leango/oci` and `leango/builder` are
relative symlinks to them, so the checkout resolves `leango.oci` and `leango.builder` as the
installed wheel does (editors, mypy, mutmut follow the imports) and package discovery finds
them there: the wheel holds their files under `leango/`. The top-level names `oci` (Oracle's
cloud SDK) and `builder` are taken on PyPI, so nothing installs at the top level.
Subpackages are found, not listed by hand, so a new one cannot be left out of the wheel.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["leango", "leango.*"]),
    package_data={"leango": ["py.typed"]},
)
