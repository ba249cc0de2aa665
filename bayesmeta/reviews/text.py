"""Text as review files hold it: RevMan 5 files are declared ISO-8859-1 but real ones contain UTF-8 sequences,
Windows-1252 punctuation (curly quotes, en dashes in the C1 range) and stray control characters; CSV exports come
as UTF-8 with a byte-order mark or as Windows-1252. `repair` turns each string into what its author typed."""

from __future__ import annotations

import math
import re

import numpy as np

from ..errors import DataError

_UTF8_SEQUENCE = re.compile(r"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_C1 = re.compile(r"[\x80-\x9f]")
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SPACE = re.compile(r"\s+")


def repair(text) -> str:
    """A string read as Latin-1 with UTF-8 sequences decoded (mojibake such as 'Ã©' -> 'é') and the C1 range read
    as Windows-1252 ('\\x96' -> '–'); whitespace runs become one space; None -> ''."""
    if text is None:
        return ""
    s = str(text)
    if any("\x80" <= ch <= "\xff" for ch in s):
        def utf8(match):
            try:
                return match.group(0).encode("latin-1").decode("utf-8")
            except UnicodeError:
                return match.group(0)

        s = _UTF8_SEQUENCE.sub(utf8, s)
        s = _C1.sub(lambda m: m.group(0).encode("latin-1").decode("cp1252", errors="replace"), s)
    return _SPACE.sub(" ", s).strip()


def strip_controls(raw: bytes) -> tuple[bytes, int]:
    """Bytes with the control characters XML 1.0 forbids replaced by spaces, and how many there were."""
    cleaned, n = _CONTROL.subn(b" ", raw)
    return cleaned, n


def decode_table(raw: bytes) -> tuple[str, str]:
    """Text of a CSV file: UTF-8 (a byte-order mark dropped), else Windows-1252 (which RevMan 5 wrote on Windows)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), "windows-1252"


def key(name) -> str:
    """A column name reduced for matching: 'I²(Q)' -> 'i2q', 'CI Start' -> 'cistart'."""
    return re.sub(r"[^0-9a-z]", "", repair(name).casefold().replace("²", "2"))


def generic_log_effect(estimate, se, lower, upper, level, log_data) -> float:
    """The log-scale effect of a generic inverse-variance row of a ratio measure, where the file may hold the
    ratio (as RevMan shows it) or the log value entered: the stored CI decides (on the ratio scale
    log(upper/lower) = 2 z se; on the log scale upper - lower = 2 z se); without a CI, RevMan's log-data flag
    (as R meta reads it: "YES" means the stored estimate is the ratio)."""
    if not np.isfinite(estimate):
        return math.nan
    z = _z(level)
    if np.isfinite(se) and se > 0 and np.isfinite(lower) and np.isfinite(upper) and upper > lower:
        width = 2 * z * se
        as_log = abs((upper - lower) - width)
        as_ratio = abs(math.log(upper / lower) - width) if lower > 0 and estimate > 0 else math.inf
        if as_ratio < as_log:
            return math.log(estimate)
        return estimate
    if str(log_data or "").upper() in ("YES", "TRUE") and estimate > 0:
        return math.log(estimate)
    return estimate


def _z(level) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2)


def stored_value(values: dict, key: str) -> str | None:
    """The stored text of `key`, or None where the file holds nothing there."""
    text = values.get(key)
    if text is None:
        return None
    text = str(text).strip()
    if text == "" or text.upper() in ("NA", "#N/A", "NAN"):
        return None
    return text


def parse_number(text, where: str) -> float:
    """A number as RevMan writes it (thousands separators allowed); empty -> NaN; else DataError naming where."""
    if text is None:
        return math.nan
    if isinstance(text, (int, float, np.integer, np.floating)):
        return float(text)
    s = str(text).strip().replace("\u00a0", "")
    if s == "" or s.upper() in ("NA", "#N/A", "NAN"):
        return math.nan
    s2 = s.replace(",", "") if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d*)?", s) else s
    try:
        return float(s2)
    except ValueError:
        raise DataError(f"{where}: {s!r} is not a number") from None
