"""The Java oracle: Samsung's published verifier (java/SamsungVerifier.java), one JVM.

``samsung_sample`` compiles the program once per test session into a temporary directory
against Debian's Jackson jars and keeps ONE JVM running for every case of the session
(``samsung_sample_jdk19``: the same on a Java 19+ JDK, only where one is installed)
(a JVM starts in about half a second; a case takes well under a millisecond). Locally a
missing ``javac``/``java`` or jar skips the tests with a reason; in CI it fails
(``tests/external.py``). The number of cases the JVM answered is printed at the end of
the run, so CI output shows the oracle really ran.
"""

from __future__ import annotations

import base64
import json
import os
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
_jvms: list[str] = []  # "17", "25": the JVMs started this session


@dataclass(frozen=True)
class Verdict:
    """What Samsung's sample did with one callback."""

    verdict: str  # accept | reject | malformed | error | none (no signature given)
    reserialized: bytes | None  # the bytes it signs (None: readValue threw)
    error: str | None
    java: int  # the JVM's major version: Double.toString prints differently from 19 on


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
            int(answer["java"]),
        )

    def reserialize(self, body: bytes) -> bytes | None:
        return self.run(body).reserialized

    @property
    def jdk(self) -> int:
        """The JVM's major version (what ``samsung.serialize(..., jdk=)`` should follow)."""
        return self.run(b"{}").java


def _start(java: str, tmp: Path, javac: str) -> subprocess.Popen[bytes]:
    classpath = ":".join(str(j) for j in JARS)
    subprocess.run(
        [javac, "-nowarn", "-cp", classpath, "-d", str(tmp), str(JAVA_SOURCE)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    process = subprocess.Popen(
        [java, "-Xss8m", "-cp", f"{tmp}:{classpath}", "SamsungVerifier"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    _jvms.append(str(SamsungSample(process).jdk))
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def samsung_sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamsungSample]:
    """Samsung's sample on the default JDK (Debian's: 17), the oracle CI must run."""
    javac = require_program("javac", install=INSTALL)
    java = require_program("java", install=INSTALL)
    for jar in JARS:
        require_file(jar, install=INSTALL)
    process = _start(java, tmp_path_factory.mktemp("samsung-java"), javac)
    try:
        yield SamsungSample(process)
    finally:
        _stop(process)


MODERN_JDK_ENV = "KNOXHOOK_JDK19_HOME"


@pytest.fixture(scope="session")
def samsung_sample_jdk19(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamsungSample]:
    """The same sample on a Java 19+ JDK, when one is installed (an extra oracle: CI's
    Debian has only 17, so this one skips there too). ``$KNOXHOOK_JDK19_HOME`` or the
    newest ``/usr/lib/jvm/*`` with a ``bin/javac`` of version 19 or later."""
    homes = [Path(os.environ[MODERN_JDK_ENV])] if os.environ.get(MODERN_JDK_ENV) else []
    homes += sorted(Path("/usr/lib/jvm").glob("*"), reverse=True)
    for jar in JARS:
        if not jar.exists():
            pytest.skip(f"needs {jar} ({INSTALL})")
    for home in homes:
        javac, java = home / "bin" / "javac", home / "bin" / "java"
        if not javac.exists() or home.is_symlink():
            continue
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=60)
        major = out.stderr.split('"')[1].split(".")[0] if '"' in out.stderr else "0"
        if major.isdigit() and int(major) >= 19:
            process = _start(str(java), tmp_path_factory.mktemp("samsung-jdk19"), str(javac))
            try:
                yield SamsungSample(process)
            finally:
                _stop(process)
            return
    pytest.skip(f"no Java 19+ JDK (set ${MODERN_JDK_ENV}); the JDK 17 oracle still runs")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _cases_run[0]:
        jvms = ", ".join(f"Java {v}" for v in _jvms)
        terminalreporter.write_line(
            f"Samsung's Java sample verifier (tests/interop): {_cases_run[0]} cases, "
            f"one JVM per Java version ({jvms})"
        )
