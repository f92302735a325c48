"""A real receiver on 127.0.0.1 (knoxhook.serving), its recorder file and verdicts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from knoxhook.receiver.app import StaticCertificates, Verdict, create_receiver
from knoxhook.receiver.nonces import MemoryNonceStore
from knoxhook.receiver.recorder import NdjsonRecorder
from knoxhook.serving import serve_in_thread
from tests.receiver.signing import Signer


@dataclass
class Running:
    url: str
    record: Path
    verdicts: list[Verdict] = field(default_factory=list)


@pytest.fixture(scope="session")
def knox() -> Signer:
    """The 'Knox' key and certificate the callbacks are signed with."""
    return Signer.create()


@pytest.fixture
def cert_file(tmp_path: Path, knox: Signer) -> Path:
    """``knox``'s certificate as a PEM file (for a ``listen --cert`` process)."""
    path = tmp_path / "knox.pem"
    path.write_bytes(knox.pem)
    return path


@pytest.fixture
def start_receiver(tmp_path: Path, knox: Signer) -> Callable[..., AbstractContextManager[Running]]:
    @contextmanager
    def start(provider: Any = None, **kw: Any) -> Iterator[Running]:
        record = tmp_path / f"rec-{id(kw)}.ndjson"
        recorder = NdjsonRecorder(record)
        verdicts: list[Verdict] = []
        kw.setdefault("nonce_store", MemoryNonceStore())
        app = create_receiver(
            provider or StaticCertificates([knox.cert]),
            recorder=recorder,
            on_callback=verdicts.append,
            **kw,
        )
        try:
            with serve_in_thread(app) as server:
                yield Running(server.base_url + kw.get("path", "/"), record, verdicts)
        finally:
            recorder.close()

    return start
