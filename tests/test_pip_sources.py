"""`.ci/pip_sources.py`: pip's configuration turned into the `uv pip install` options
that `make install` passes (uv reads none of pip's files or variables)."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from tests.conftest import REPO_ROOT


def _pip_sources() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pip_sources", REPO_ROOT / ".ci/pip_sources.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LISTING = """global.cert='/etc/ssl/certs/ca-certificates.crt'
global.constraint='/etc/xdg/pip/constraints.txt'
global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'
global.find-links='/opt/from-file'
:env:.default-timeout='180'
:env:.find-links='/opt/wheels'
"""


def test_every_index_find_links_and_constraint_pip_uses_is_passed_to_uv():
    sources = _pip_sources()
    options = sources.uv_options(sources.pip_settings(LISTING))
    assert options == [
        "--index-strategy", "unsafe-best-match",
        "--extra-index-url", "file:///opt/pypi/simple",
        "--extra-index-url", "file:///opt/pypi-more/simple",
        "--find-links", "/opt/wheels",  # the variable overrides the file, as in pip
        "--constraint", "/etc/xdg/pip/constraints.txt",
    ]  # fmt: skip


def test_without_pip_configuration_uv_keeps_its_defaults_and_pips_index_choice():
    sources = _pip_sources()
    assert sources.uv_options(sources.pip_settings("")) == [
        "--index-strategy",
        "unsafe-best-match",
    ]
    listing = "global.index-url='https://mirror.example/simple'\n"
    assert sources.uv_options(sources.pip_settings(listing))[2:] == [
        "--index-url",
        "https://mirror.example/simple",
    ]
