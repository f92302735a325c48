"""Private files: directories 0700, files 0600 from their first byte, written atomically.

The one implementation for everything knoxhook keeps on disk that another user must not
read: the config, the opt-in secret file, cached tokens and certificates, the
emulator's signing key (DESIGN.md: "Secret files are created 0600 from the start").
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from knoxhook.errors import UsageError


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` as 0700, and any missing parent as 0700 too (``mkdir(parents=True)``
    would give those the umask's mode); ``path`` itself is kept 0700.

    UsageError naming ``path`` when it cannot be had (a parent is a file, no permission):
    these directories come from the environment (``KNOXHOOK_CONFIG_DIR``/``_CACHE_DIR``).
    """
    try:
        missing = [p for p in (path, *path.parents) if not p.exists()]
        for directory in reversed(missing):
            directory.mkdir(mode=0o700, exist_ok=True)
            os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask
        os.chmod(path, 0o700)
    except OSError as exc:
        raise UsageError(
            f"cannot use the directory {path}: {exc.strerror or exc}",
            hint="check it, or point KNOXHOOK_CONFIG_DIR / KNOXHOOK_CACHE_DIR elsewhere",
        ) from exc
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically; the file is 0600 from its first byte.

    A temp file in the same directory is created with ``os.open(..., 0o600)``, synced,
    then ``os.replace``-d over ``path``, so readers never see a half-written file.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
