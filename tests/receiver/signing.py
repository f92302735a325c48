"""Test helpers: a throwaway Knox-like signer (RSA key + self-signed cert) and callbacks."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

JOSE_RS256 = base64.urlsafe_b64encode(b'{"alg":"RS256","typ":"JWT"}').rstrip(b"=").decode()


def b64url(data: bytes, *, padded: bool) -> str:
    text = base64.urlsafe_b64encode(data).decode()
    return text if padded else text.rstrip("=")


@dataclass
class Signer:
    """An RSA key and a self-signed certificate, as Knox's validation certificate."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @classmethod
    def create(
        cls,
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        key: rsa.RSAPrivateKey | None = None,
    ) -> Signer:
        key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.now(UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "*.samsungknox.test")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - timedelta(days=1))
            .not_valid_after(not_after or now + timedelta(days=365))
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def sign(
        self,
        body: bytes,
        *,
        compact: bool = False,
        padded: bool = True,
        detached: bool = True,
        jose: str = JOSE_RS256,
    ) -> str:
        """The X-WSM-SIGNATURE value for ``body`` in the chosen form."""
        signed = body
        if compact:
            signed = json.dumps(
                json.loads(body), separators=(",", ":"), ensure_ascii=False
            ).encode()
        encoded = b64url(signed, padded=padded)
        data = f"{jose}.{encoded}".encode()
        sig = self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        part1 = "" if detached else encoded
        return f"{jose}.{part1}.{b64url(sig, padded=False)}"

    def callback(
        self,
        *,
        event: str = "KDMS_DEVICE_UPLOAD",
        subscription_id: str = "63689d7e4ee2721f7b50d2b1",
        payload: dict[str, Any] | None = None,
        nonce: str | None = None,
        body: bytes | None = None,
        **form: bool,
    ) -> tuple[bytes, dict[str, str]]:
        """A (body, headers) pair as Knox would POST it."""
        if body is None:
            document = {
                "subscriptionId": subscription_id,
                "event": event,
                "payload": payload if payload is not None else {"successCount": 1},
            }
            body = json.dumps(document, indent=1).encode()  # not compact, on purpose
        headers = {
            "Content-Type": "application/json",
            "X-WSM-SIGNATURE": self.sign(body, **form),
            "X-WSM-TRACEID": "trace-" + uuid.uuid4().hex[:8],
            "x-knox-nonce": nonce or uuid.uuid4().hex,
        }
        return body, headers
