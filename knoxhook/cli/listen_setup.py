"""What ``knoxhook listen`` builds before it serves, each checked first so a bad option
is a usage error before the port is bound: TLS, the log handler, the replay store
(SQLite, memory or Redis) and the record."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from knoxhook.cli import common, display, listen_handoff
from knoxhook.cli.verify import open_nonce_db

DEFAULT_NONCE_DB = "nonces.sqlite3"  # in the cache dir


def tls(cert: Path | None, key: Path | None) -> Any:
    """``--tls-cert``/``--tls-key`` as a ``serving.Tls``, checked before serving."""
    import ssl

    from knoxhook.errors import UsageError
    from knoxhook.serving import Tls

    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise UsageError("--tls-cert and --tls-key go together", hint="give both, or neither")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(
            f"--tls-cert {cert} / --tls-key {key}: cannot use them ({why})",
            hint="give a PEM certificate chain and its PEM private key",
        ) from exc
    return Tls(str(cert), str(key))


def log_handler(log_format: str) -> Any:
    """One line per warning on stderr: ``warning: ...``, or a JSON object."""
    import logging

    class JsonLines(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            level, message = record.levelname.lower(), record.getMessage()
            return display.json_log_line(level, record.name, message, record.created)

    class TextLines(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return f"{record.levelname.lower()}: {common.one_line(record.getMessage())}"

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if log_format == "json" else TextLines())
    return handler


NONCE_STORE_ENV = "KNOXHOOK_NONCE_STORE"


def redis_store(url: str, window: float) -> Any:
    """``--nonce-store redis://...``: checked now; an unreachable Redis only warns (the
    receiver answers 503 until it answers, and /readyz says so)."""
    from urllib.parse import urlsplit

    from knoxhook.errors import UsageError
    from knoxhook.httptrace import redact_url
    from knoxhook.receiver.redis_store import (
        SCHEMES,
        RedisNonceStore,
        StoreUnavailableError,
    )

    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise UsageError(f"--nonce-store {shown}: not a valid URL ({exc})") from exc
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise UsageError(
            f"--nonce-store must be a redis://HOST:PORT/DB or rediss:// URL: {shown!r}",
            hint="for a SQLite file on this host, use --nonce-db FILE",
        )
    listen_handoff.check_redis_url("--nonce-store", url, NONCE_STORE_ENV)
    try:
        store = RedisNonceStore(url, window)
    except ValueError as exc:  # from redis-py's URL parser (a bad DB number...)
        raise UsageError(f"--nonce-store {shown}: {exc}") from exc
    try:
        store.ping()
    except StoreUnavailableError as exc:
        common.warn(f"{exc.message}; callbacks get 503 until it answers")
    return store


def nonce_store(path: Path | None, window: float, url: str | None = None) -> Any:
    from knoxhook.config import cache_dir
    from knoxhook.errors import UsageError
    from knoxhook.receiver.nonces import MemoryNonceStore

    if url:
        if path is not None:
            raise UsageError(
                "--nonce-db and --nonce-store (or $KNOXHOOK_NONCE_STORE) are two stores: give one"
            )
        return redis_store(url, window)
    if path is not None and str(path) == ":memory:":
        return MemoryNonceStore(window)
    return open_nonce_db(path or cache_dir() / DEFAULT_NONCE_DB, window)


def recorder(path: Path) -> Any:
    from knoxhook.errors import UsageError
    from knoxhook.receiver.recorder import NdjsonRecorder

    try:
        return NdjsonRecorder(path)
    except OSError as exc:
        raise UsageError(
            f"--record {path}: cannot append to it ({exc.strerror or exc})",
            hint="give a writable file path (it is created 0600)",
        ) from exc
