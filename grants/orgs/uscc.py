"""统一社会信用代码 (USCC, GB 32100-2015) validation, wrapping python-stdnum.

stdnum checks the check digit but demands digits in positions 1–8. The standard
allows letters in position 1 (registration authority, e.g. ``N``/``Y``) and 2 (entity
type); positions 3–8 are the administrative division code and must be digits;
positions 9–17 (organisation code) may hold letters; position 18 is the check
character. All letters come from the alphabet without I, O, S, V, Z.
"""

from __future__ import annotations

from stdnum.cn import uscc as _stdnum_uscc

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


class USCCError(ValueError):
    """Why a code is not a valid USCC; ``reason`` is one of length/format/checksum."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def compact(code: str) -> str:
    """Upper-case the code and drop spaces and hyphens (also full-width ones)."""
    return (
        (code or "")
        .translate({0x3000: None, 0xFF0D: None})
        .replace(" ", "")
        .replace("-", "")
        .upper()
        .strip()
    )


def validate(code: str) -> str:
    """Return the compact code or raise :class:`USCCError`."""
    code = compact(code)
    if len(code) != 18:
        raise USCCError("length")
    if any(c not in ALPHABET for c in code):
        raise USCCError("format")
    if not code[2:8].isdigit():
        raise USCCError("format")
    if code[17] != _stdnum_uscc.calc_check_digit(code[:17]):
        raise USCCError("checksum")
    return code


def is_valid(code: str) -> bool:
    try:
        validate(code)
    except USCCError:
        return False
    return True


def with_check_digit(first17: str) -> str:
    """Complete 17 characters with their check character (for demo data and tests)."""
    first17 = compact(first17)
    return first17 + _stdnum_uscc.calc_check_digit(first17)
