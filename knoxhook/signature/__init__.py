"""Verify the ``X-WSM-SIGNATURE`` of a Knox callback. Pure functions, no I/O.

Knox signs callbacks with a compact JWS in ``X-WSM-SIGNATURE`` (knox-api.md §5). What
exactly is signed is not documented, so ``verify_callback`` accepts, in this order::

    signing input = part0 + "." + b64url(X)
    X             = the raw body bytes                       ("raw-body")
                  | Samsung's re-serialization of the body   ("samsung-reserialized":
                    what Samsung's sample verifier builds, ``samsung.reserialize``)
                  | its compact re-encoding in document order ("compact-json")
    b64url        = with "=" padding ("padded", Java's URL encoder) or without ("unpadded")

always as RS256 with a trusted certificate valid now, whatever the JOSE header's ``alg``
says; part 1 of the JWS is ignored, as Samsung's sample ignores it ("detached" or
"attached" in the reported form). The form that matched last for a trusted key is tried
first. The body is parsed once (repeated names at any depth, NaN/Infinity and bytes after
the JSON value are refused). Every failure raises ONE error type,
``CallbackVerificationError``, whose ``reason`` is a ``Reason`` and whose message says
which check failed.

The modules: ``results`` (what a verification returns: ``Reason``, ``VerifiedCallback``,
``Attempt``, the ``NonceStore`` protocol), ``keys`` (trusted certificates, parsed once),
``samsung`` (Jackson's re-serialization, with ``javahashmap`` and ``javadouble``),
``forms`` (the JWS parts and the signing inputs tried), ``verify`` (``verify_callback``).
"""

from knoxhook.signature.keys import Certificates, TrustedKey, trusted_keys
from knoxhook.signature.results import Attempt, NonceStore, Reason, VerifiedCallback
from knoxhook.signature.verify import ALGORITHM, MAX_BODY_BYTES, header_value, verify_callback

__all__ = [
    "ALGORITHM",
    "MAX_BODY_BYTES",
    "Attempt",
    "Certificates",
    "NonceStore",
    "Reason",
    "TrustedKey",
    "VerifiedCallback",
    "header_value",
    "trusted_keys",
    "verify_callback",
]
