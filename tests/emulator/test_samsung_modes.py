"""The signing modes against Samsung's own verifier (issue 12.4).

Samsung's Java sample (tests/interop/java/SamsungVerifier.java, transcribed from the Knox
Guard and E-FOTA tutorials, run with Debian's Jackson) must accept the emulator's
callbacks in both Samsung modes, and refuses the third-party modes, as docs/emulator.md
says. One JVM for the module; skipped locally without javac or the jars, failed in CI.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from knoxhook.emulator import SIGNING_MODES, SigningMode
from knoxhook.emulator.testing import running_emulator
from tests.emulator.conftest import Api, Recorder
from tests.external import require_file, require_program
from tests.interop.conftest import INSTALL, JARS, JAVA_SOURCE, SamsungSample

ACCEPTED = {SigningMode.SAMSUNG, SigningMode.SAMSUNG_RESERIALIZED}
PAYLOADS = [
    None,  # the event's example payload
    {"big": 12345678901234567890123, "float": 1.5e21, "neg": -0.0, "text": "é/\u0001\u2028"},
    {f"k{i}": i for i in range(40)},  # many keys (nested: document order)
]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamsungSample]:
    javac = require_program("javac", install=INSTALL)
    java = require_program("java", install=INSTALL)
    for jar in JARS:
        require_file(jar, install=INSTALL)
    classpath = ":".join(str(j) for j in JARS)
    out: Path = tmp_path_factory.mktemp("samsung-java-emulator")
    subprocess.run(
        [javac, "-nowarn", "-cp", classpath, "-d", str(out), str(JAVA_SOURCE)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    process = subprocess.Popen(
        [java, "-cp", f"{out}:{classpath}", "SamsungVerifier"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        yield SamsungSample(process)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=10)


@pytest.mark.parametrize("mode", SIGNING_MODES)
def test_samsungs_sample_accepts_exactly_the_samsung_modes(
    mode: str, sample: SamsungSample, recorder: Recorder
) -> None:
    with running_emulator(signing=mode) as emu:
        api = Api(emu)
        api.created(recorder.url, ["KAI_APP_USAGE_TIME_BATTERY"])
        for payload in PAYLOADS:
            assert emu.trigger("KAI_APP_USAGE_TIME_BATTERY", payload=payload)["status"] == (
                "delivered"
            )
        pem = emu.certificate_pem
        api.http.close()
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    verdicts = [
        sample.run(body, headers["x-wsm-signature"], der).verdict
        for headers, body in recorder.calls
    ]
    expected = "accept" if mode in ACCEPTED else "reject"
    assert verdicts == [expected] * len(PAYLOADS)
