"""Outside programs the tests use as oracles or servers (openssl, javac, node, redis-server).

A test that needs one calls ``require_program`` (or ``require_file``) instead of
``pytest.mark.skipif``. Locally a missing program skips the test with a reason that says
how to install it. In CI (``CI=true``, set by ``.ci/run``) it FAILS instead: ``.ci/run``
installs every program these tests need, so a skip there means an oracle did not run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def in_ci() -> bool:
    """True when ``CI`` is set to a true value (``true``, ``1``, ``yes``)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing(reason: str) -> None:
    """Skip locally, fail in CI: an outside program or file this test needs is absent."""
    if in_ci():
        pytest.fail(f"required in CI but missing: {reason} (.ci/run must install it)", False)
    pytest.skip(reason)


def require_program(name: str, *, install: str) -> str:
    """The path of program ``name``; else skip (locally) or fail (CI), naming ``install``."""
    path = shutil.which(name)
    if path is None:
        missing(f"needs {name!r} on PATH ({install})")
        raise AssertionError("unreachable")  # missing() always raises
    return path


def require_file(path: Path, *, install: str) -> Path:
    """``path`` if it exists; else skip (locally) or fail (CI), naming ``install``."""
    if not path.exists():
        missing(f"needs {path} ({install})")
    return path
