"""``Double.toString`` exactly as JDK 17 prints it (what Jackson writes for a double).

Jackson's ``writeNumber(double)`` calls ``Double.toString`` (``USE_FAST_DOUBLE_WRITER`` is
off by default). Up to JDK 18 that is the old ``FloatingDecimal.dtoa`` algorithm, which is
NOT the shortest representation Python's ``repr`` gives: ``2e23`` prints as
``1.9999999999999998E23``, some integers such as ``2**63`` lose low digits
(``9.223372036854776E18``), and E-form always keeps two significant digits. JDK 19
replaced it (Raffaello Giulietti's algorithm, JDK-4511638), so the JDK the sample runs on
matters; this module follows JDK 17, the Debian/CI default and the JDK of the issue's
measurements. The structure below follows the published algorithm step for step (an easy
case for integers below 2**63, an estimated decimal exponent, then digit generation with a
symmetric half-ULP stopping test in int, long or big-integer arithmetic), with Java's
int/long wrap-around reproduced where it can occur. ``tests/interop`` checks it against
the real JVM.
"""

from __future__ import annotations

import math
import struct
from decimal import Decimal
from fractions import Fraction
from typing import Final

_EXP_SHIFT: Final = 52
_FRACT_HOB: Final = 1 << _EXP_SHIFT
_EXP_BIAS: Final = 1023
_MAX_SMALL_BIN_EXP: Final = 62
_MIN_SMALL_BIN_EXP: Final = -(63 // 3)
# approximately ceil(log2(5**i)), as the JDK tabulates it (only the first 27 entries)
_N_5_BITS: Final = (0, 3, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28, 31, 33, 35, 38, 40, 42)
_N_5_BITS_ALL: Final = (*_N_5_BITS, 45, 47, 49, 52, 54, 56, 59, 61)
# insignificantDigitsForPow2(p) == number of decimal digits of 2**p, minus one
_INSIGNIFICANT: Final = (0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 6,
                         7, 7, 7, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 11, 11, 11, 12, 12, 12, 12,
                         13, 13, 13, 14, 14, 14, 15, 15, 15, 15, 16, 16, 16, 17, 17, 17, 18, 18,
                         18, 19)  # fmt: skip


def _wrap(value: int, bits: int) -> int:
    """``value`` as a Java ``int`` (32) or ``long`` (64): two's complement wrap-around."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _jdiv(a: int, b: int) -> int:
    """Java's integer division: truncates toward zero (exactly; no float detour)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _n5bits(i: int) -> int:
    return _N_5_BITS_ALL[i] if i < len(_N_5_BITS_ALL) else i * 3


def _long_digits(lvalue: int, insignificant: int) -> tuple[list[int], int]:
    """The easy case: an integer below 2**63, minus its insignificant low digits."""
    dec_exp = 0
    if insignificant:
        pow10 = 10**insignificant
        residue = lvalue % pow10
        lvalue //= pow10
        dec_exp += insignificant
        if residue >= pow10 >> 1:
            lvalue += 1
    text = str(lvalue)
    stripped = text.rstrip("0")
    dec_exp += len(text) - 1
    return [ord(c) - 48 for c in stripped], dec_exp + 1


def _dtoa(bin_exp: int, fract_bits: int, n_significant_bits: int) -> tuple[list[int], int]:
    """(digits, decimal exponent) of a positive finite double, as JDK 17 develops them."""
    tail_zeros = (fract_bits & -fract_bits).bit_length() - 1
    n_fract_bits = _EXP_SHIFT + 1 - tail_zeros
    n_tiny_bits = max(0, n_fract_bits - bin_exp - 1)
    if (
        _MIN_SMALL_BIN_EXP <= bin_exp <= _MAX_SMALL_BIN_EXP
        and n_tiny_bits == 0  # an integer that fits a long (5**0 adds no bits)
        and n_fract_bits < 64
    ):
        insignificant = 0
        if bin_exp > n_significant_bits:
            p2 = bin_exp - n_significant_bits - 1
            insignificant = _INSIGNIFICANT[p2] if 1 < p2 < len(_INSIGNIFICANT) else 0
        if bin_exp >= _EXP_SHIFT:
            fract_bits <<= bin_exp - _EXP_SHIFT
        else:
            fract_bits >>= _EXP_SHIFT - bin_exp
        return _long_digits(fract_bits, insignificant)
    dec_exp = _estimate_dec_exp(fract_bits, bin_exp)
    b5 = max(0, -dec_exp)
    b2 = b5 + n_tiny_bits + bin_exp
    s5 = max(0, dec_exp)
    s2 = s5 + n_tiny_bits
    m5 = b5
    m2 = b2 - n_significant_bits
    fract_bits >>= tail_zeros
    b2 -= n_fract_bits - 1
    common = min(b2, s2)
    b2 -= common
    s2 -= common
    m2 -= common
    if n_fract_bits == 1:  # an exact power of two: the next lower double is closer
        m2 -= 1
    if m2 < 0:
        b2 -= m2
        s2 -= m2
        m2 = 0
    b_bits = n_fract_bits + b2 + _n5bits(b5)
    ten_s_bits = s2 + 1 + _n5bits(s5 + 1)
    digits: list[int] = []
    if b_bits < 64 and ten_s_bits < 64:  # int or long arithmetic, with Java's overflow
        width = 32 if b_bits < 32 and ten_s_bits < 32 else 64
        b = _wrap(_wrap(fract_bits * 5**b5, width) << b2, width)
        s = _wrap(5**s5 << s2, width)
        m = _wrap(5**m5 << m2, width)
        tens = _wrap(s * 10, width)
        q = _jdiv(b, s)
        b = _wrap(10 * (b - q * s), width)
        m = _wrap(m * 10, width)
        low = b < m
        high = _wrap(b + m, width) > tens
        if q == 0 and not high:
            dec_exp -= 1
        else:
            digits.append(q)
        if dec_exp < -3 or dec_exp >= 8:  # E-form keeps at least two digits
            high = low = False
        while not low and not high:
            q = _jdiv(b, s)
            b = _wrap(10 * (b - q * s), width)
            m = _wrap(m * 10, width)
            if m > 0:
                low = b < m
                high = _wrap(b + m, width) > tens
            else:  # m overflowed
                low = high = True
            digits.append(q)
        low_diff = _wrap((b << 1) - tens, width)
    else:  # big integers; note high uses >= here, as FDBigInteger.addAndCmp does
        s = 5**s5 << s2
        b = fract_bits * 5**b5 << b2
        m = 5 ** (m5 + 1) << (m2 + 1)
        tens = 5 ** (s5 + 1) << (s2 + 1)
        q, b = divmod(b, s)
        b *= 10
        low = b < m
        high = b + m >= tens
        if q == 0 and not high:
            dec_exp -= 1
        else:
            digits.append(q)
        if dec_exp < -3 or dec_exp >= 8:
            high = low = False
        while not low and not high:
            q, b = divmod(b, s)
            b *= 10
            m *= 10
            low = b < m
            high = b + m >= tens
            digits.append(q)
        low_diff = (b << 1) - tens if high and low else 0
    dec_exponent = dec_exp + 1
    if high and (not low or low_diff > 0 or (low_diff == 0 and digits[-1] & 1)):
        dec_exponent = _roundup(digits, dec_exponent)
    return digits, dec_exponent


def _roundup(digits: list[int], dec_exponent: int) -> int:
    i = len(digits) - 1
    while digits[i] == 9 and i > 0:
        digits[i] = 0
        i -= 1
    if digits[i] == 9:  # carry out of the first digit
        digits[0] = 1
        return dec_exponent + 1
    digits[i] += 1
    return dec_exponent


def _estimate_dec_exp(fract_bits: int, bin_exp: int) -> int:
    """floor(log10(d)), estimated in double arithmetic exactly as the JDK does."""
    mantissa = fract_bits & (_FRACT_HOB - 1)
    d2: float = struct.unpack("<d", struct.pack("<Q", (_EXP_BIAS << _EXP_SHIFT) | mantissa))[0]
    d = (d2 - 1.5) * 0.289529654 + 0.176091259 + float(bin_exp) * 0.301029995663981
    return math.floor(d)


def _chars(negative: bool, digits: list[int], dec_exponent: int) -> str:
    text = "".join(map(str, digits))
    sign = "-" if negative else ""
    n = len(text)
    if 0 < dec_exponent < 8:
        if n <= dec_exponent:
            return f"{sign}{text}{'0' * (dec_exponent - n)}.0"
        return f"{sign}{text[:dec_exponent]}.{text[dec_exponent:]}"
    if -3 < dec_exponent <= 0:
        return f"{sign}0.{'0' * -dec_exponent}{text}"
    return f"{sign}{text[0]}.{text[1:] or '0'}E{dec_exponent - 1}"


def double_to_string(value: float) -> str:
    """``Double.toString(value)`` as JDK 17 prints it (``NaN`` and ``Infinity`` included)."""
    bits = struct.unpack("<Q", struct.pack("<d", value))[0]
    negative = bool(bits >> 63)
    fract_bits = bits & (_FRACT_HOB - 1)
    bin_exp = (bits >> _EXP_SHIFT) & 0x7FF
    if bin_exp == 0x7FF:
        if fract_bits:
            return "NaN"
        return "-Infinity" if negative else "Infinity"
    if bin_exp == 0:
        if fract_bits == 0:
            return "-0.0" if negative else "0.0"
        leading_zeros = 64 - fract_bits.bit_length()
        shift = leading_zeros - (63 - _EXP_SHIFT)
        fract_bits <<= shift
        bin_exp = 1 - shift
        n_significant_bits = 64 - leading_zeros
    else:
        fract_bits |= _FRACT_HOB
        n_significant_bits = _EXP_SHIFT + 1
    digits, dec_exponent = _dtoa(bin_exp - _EXP_BIAS, fract_bits, n_significant_bits)
    return _chars(negative, digits, dec_exponent)


def _shortest_digits(value: float) -> tuple[str, int]:
    """JDK 19+ digits of a positive finite double: (digits, decimal exponent of the first).

    The shortest decimal that rounds to ``value`` (Python's ``repr`` picks the same, the
    closest when several), except that a 1-digit result gives way to a closer 2-digit one
    (the JDK 19 ``Double.toString`` specification: for ``5e-324`` it is ``4.9E-324``).
    """
    _, ds, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, ds))
    exp10 = len(digits) + exponent - 1  # the power of ten of the first digit
    if len(digits) == 1:
        exact = Fraction(value)
        one = Fraction(int(digits)) * Fraction(10) ** exp10
        two_text = f"{value:.1e}"
        two = Fraction(two_text)
        if float(two_text) == value and abs(two - exact) < abs(one - exact):
            d2, _, e2 = two_text.partition("e")
            return d2.replace(".", "").rstrip("0") or "0", int(e2)
    return digits, exp10


def _jdk19(value: float) -> str:
    negative = math.copysign(1.0, value) < 0
    x = -value if negative else value
    digits, exp10 = _shortest_digits(x)
    return _chars(negative, [int(c) for c in digits], exp10 + 1)


def double_to_string_jdk(value: float, jdk: int) -> str:
    """``Double.toString(value)`` as JDK ``jdk`` prints it: JDK 17's algorithm up to 18,
    the shortest-decimal one (JDK-4511638) from 19 on."""
    if jdk < 19 or not math.isfinite(value) or value == 0:
        return double_to_string(value)
    return _jdk19(value)
