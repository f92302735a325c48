"""The Java oracle: Samsung's published verifier (java/SamsungVerifier.java), one JVM.

``samsung_sample`` compiles the program once per test session into a temporary directory
against Debian's Jackson jars and keeps ONE JVM running for every case of the session
(a JVM starts in about half a second; a case takes well under a millisecond). Locally a
missing ``javac``/``java`` or jar skips the tests with a reason; in CI it fails
(``tests/external.py``). The number of cases the JVM answered is printed at the end of
the run, so CI output shows the oracle really ran.
"""

from __future__ import annotations

import base64
import json
import select
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.external import require_file, require_program

JAVA_SOURCE = Path(__file__).resolve().parent / "java" / "SamsungVerifier.java"
JARS = [
    Path("/usr/share/java") / name
    for name in ("jackson-databind.jar", "jackson-core.jar", "jackson-annotations.jar")
]
INSTALL = "apt-get install default-jdk-headless libjackson2-databind-java"
CASE_TIMEOUT = 30.0  # seconds for one answer (a 2 MB body included)

_cases_run = [0]


@dataclass(frozen=True)
class Verdict:
    """What Samsung's sample did with one callback."""

    verdict: str  # accept | reject | malformed | error | none (no signature given)
    reserialized: bytes | None  # the bytes it signs (None: readValue threw)
    error: str | None


class SamsungSample:
    """A running ``SamsungVerifier`` JVM: one line in, one line out, per case."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    def run(
        self, body: bytes, signature: str | None = None, certificate_der: bytes | None = None
    ) -> Verdict:
        case = {
            "body": base64.b64encode(body).decode(),
            "signature": signature,
            "certificate": None
            if certificate_der is None
            else base64.b64encode(certificate_der).decode(),
        }
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(case).encode() + b"\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + CASE_TIMEOUT
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(left, 0))
            if not ready:
                raise AssertionError(f"the Java sample did not answer within {CASE_TIMEOUT} s")
            chunk = self.process.stdout.read1(1 << 20)
            if not chunk:
                raise AssertionError(f"the Java sample exited (status {self.process.poll()})")
            line += chunk
        _cases_run[0] += 1
        answer = json.loads(line)
        signed = answer.get("reserialized")
        return Verdict(
            answer["verdict"],
            None if signed is None else base64.b64decode(signed),
            answer.get("error"),
        )

    def reserialize(self, body: bytes) -> bytes | None:
        return self.run(body).reserialized


@pytest.fixture(scope="session")
def samsung_sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamsungSample]:
    javac = require_program("javac", install=INSTALL)
    java = require_program("java", install=INSTALL)
    for jar in JARS:
        require_file(jar, install=INSTALL)
    classpath = ":".join(str(j) for j in JARS)
    out = tmp_path_factory.mktemp("samsung-java")
    subprocess.run(
        [javac, "-nowarn", "-cp", classpath, "-d", str(out), str(JAVA_SOURCE)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    process = subprocess.Popen(
        [java, "-Xss8m", "-cp", f"{out}:{classpath}", "SamsungVerifier"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        yield SamsungSample(process)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _cases_run[0]:
        terminalreporter.write_line(
            f"Samsung's Java sample verifier (tests/interop): {_cases_run[0]} cases, one JVM"
        )
