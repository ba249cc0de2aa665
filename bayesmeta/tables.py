"""Reading tables from files: the one route from a file on disk to a DataFrame, for the Python API
(`read_table`), the command line and analysis files.

What it does that a bare `pandas.read_csv` does not:

* the dialect is detected: the separator (`,` `;` tab `|`) from the header line, and decimal commas in
  numeric columns of files not separated by commas (as the Metapsy databases and European spreadsheets
  write them: `"36,88"`); `sep=` and `decimal=` override the detection;
* UTF-8 (with or without a byte-order mark) is read; a file that is not UTF-8 is read as Windows-1252 /
  Latin-1 with a warning; Excel workbooks, UTF-16 text, PDFs and compressed files are named as such, with
  what to do instead;
* a duplicated column name in the header is an error naming it (pandas would rename it silently);
* study labels stay text: a study called `NA`, `N/A`, `null` or `None` keeps its label, and `001` stays
  `001` (in the label columns: `labels=`, and the common study column names). In other columns the usual
  missing-value markers (empty, NA, N/A, NaN, null, ...) are missing values, reported later by row and
  column where they matter;
* a missing file, a folder, an empty file or a malformed line gives a one-line `DataError` naming the file.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
import zipfile
from pathlib import Path

import pandas as pd

from .effects import COMMON_COLUMNS, PACKAGE_DIR
from .errors import DataError, DataWarning

SEPARATORS = (",", ";", "\t", "|")
# The markers pandas reads as missing by default, less nothing: in label columns they stay text.
NA_TOKENS = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                       "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"})
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_COMMA_NUMBER = re.compile(r"[-+]?(?:\d+(?:,\d*)?|,\d+)(?:[eE][-+]?\d+)?")
_SIGNATURES = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old-style Excel workbook (.xls) or another Microsoft Office file",
     "save the sheet as CSV (File > Save As > CSV UTF-8), or read it with pandas.read_excel and pass the DataFrame"),
    (b"%PDF", "a PDF document", "copy the table into a CSV file"),
    (b"\x1f\x8b", "a gzip-compressed file", "decompress it first (gunzip)"),
    (b"PAR1", "a Parquet file", "read it with pandas.read_parquet and pass the DataFrame"),
    (b"SQLite format 3", "an SQLite database", "export the table as CSV"),
)


def read_table(path, sep: str | None = None, decimal: str | None = None, encoding: str | None = None,
               labels=()) -> pd.DataFrame:
    """Read a delimited text table (CSV and its dialects) into a DataFrame; see the module docstring.

    sep: the separator (default: detected from the header line). decimal: "." or "," (default: a column
    is numeric with decimal commas when the separator is not a comma and every value in it reads so).
    encoding: the text encoding (default: UTF-8, else Windows-1252 with a warning). labels: columns that
    hold study labels (kept as text; the common study column names are always treated so).
    The DataFrame's `attrs` record the file and the dialect used.
    """
    p = Path(path)
    name = str(path)
    if sep is not None and (not isinstance(sep, str) or len(sep) != 1 or sep in "\"'\r\n"):
        raise DataError(f"{name}: the separator must be one character such as ',' ';' or a tab, not {sep!r}")
    if decimal not in (None, ".", ","):
        raise DataError(f"{name}: decimal must be '.' or ',', not {decimal!r}")
    raw = _read_bytes(p, name)
    text, used_encoding = _decode(raw, name, encoding)
    hint = re.match(r"\s*sep=(.)\s*?\r?\n", text)  # Excel's "sep=;" first line
    if hint:
        text, sep = text[hint.end():], sep or hint.group(1)
    sep = sep or detect_separator(text)
    if decimal == "," and sep == ",":
        raise DataError(f"{name}: decimal commas need another separator than the comma (sep=';')")
    _check_header(text, sep, name)
    try:
        table = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False,
                            skipinitialspace=True, skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, ValueError) as err:
        raise DataError(f"{name}: cannot be read as a table separated by {_sep_name(sep)}: "
                        f"{_parser_message(err)}") from None
    table = table.loc[:, [not (str(c).startswith("Unnamed: ") and (table[c].str.strip() == "").all())
                          for c in table.columns]]
    table.columns = [str(c).strip() for c in table.columns]
    if table.shape[1] == 0 or len(table) == 0:
        raise DataError(f"{name}: the file has a header but no rows of data")
    label_columns = set(labels or ()) | set(COMMON_COLUMNS["study"])
    comma = decimal == "," or (decimal is None and sep != ",")
    for col in table.columns:
        table[col] = _convert(table[col], text_only=col in label_columns, decimal_comma=comma)
    table.attrs.update(file=name, sep=sep, encoding=used_encoding)
    return table


def detect_separator(text: str) -> str:
    """The separator of a delimited text: of `,` `;` tab `|`, the one found most often (outside quotes)
    in the header line, provided the next lines have as many; a comma when the header has none."""
    lines = [line for line in text.splitlines() if line.strip()][:20]
    if not lines:
        return ","
    counts = {s: _count_outside_quotes(lines[0], s) for s in SEPARATORS}
    ranked = sorted((c, -SEPARATORS.index(s), s) for s, c in counts.items() if c > 0)
    for count, _, s in reversed(ranked):
        if all(_count_outside_quotes(line, s) >= count for line in lines[1:5]):
            return s
    return ranked[-1][2] if ranked else ","


def _count_outside_quotes(line: str, char: str) -> int:
    count, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == char and not quoted:
            count += 1
    return count


def _sep_name(sep: str) -> str:
    return {",": "commas", ";": "semicolons", "\t": "tabs", "|": "bars"}.get(sep, repr(sep))


def _read_bytes(p: Path, name: str) -> bytes:
    if not p.exists():
        raise DataError(f"{name}: no such file")
    if p.is_dir():
        raise DataError(f"{name}: is a folder, not a data file")
    try:
        raw = p.read_bytes()
    except OSError as err:
        raise DataError(f"{name}: cannot be read ({err.strerror or err})") from None
    if not raw.strip():
        raise DataError(f"{name}: the file is empty")
    return raw


def _decode(raw: bytes, name: str, encoding: str | None) -> tuple[str, str]:
    """The text of a file: UTF-8 (BOM or not), else Windows-1252/Latin-1 with a warning; other kinds of
    file are named with what to do."""
    if raw.startswith(b"PK\x03\x04"):
        what = "a zip archive"
        try:
            names = zipfile.ZipFile(io.BytesIO(raw)).namelist()
            what = ("an Excel workbook (.xlsx)" if any(n.startswith("xl/") for n in names) else
                    "an OpenDocument spreadsheet (.ods)" if "content.xml" in names else what)
        except zipfile.BadZipFile:
            pass
        raise DataError(f"{name}: is {what}, not a CSV file; save the sheet as CSV (File > Save As > CSV UTF-8), "
                        "or read it with pandas.read_excel and pass the DataFrame")
    for magic, what, todo in _SIGNATURES:
        if raw.startswith(magic):
            raise DataError(f"{name}: is {what}, not a CSV file; {todo}")
    head = raw[:4096]
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or (head.count(b"\x00") > len(head) // 4 and not encoding):
        raise DataError(f"{name}: is UTF-16 text (as the 'Unicode Text' export of Excel writes), not UTF-8; save it as "
                        "'CSV UTF-8' or convert it (iconv -f UTF-16 -t UTF-8)")
    if encoding:
        try:
            return raw.decode(encoding), encoding
        except (LookupError, UnicodeDecodeError) as err:
            raise DataError(f"{name}: cannot be read with encoding {encoding!r} ({err})") from None
    if b"\x00" in head:
        raise DataError(f"{name}: is a binary file, not a text table")
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as err:
        where = raw[: err.start].count(b"\n") + 1
    try:
        text, used = raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        text, used = raw.decode("latin-1"), "latin-1"
    warnings.warn(f"{name}: not UTF-8 (first at line {where}); read as Windows-1252/Latin-1 text: check accented "
                  "characters in the labels, or save the file as UTF-8", DataWarning, skip_file_prefixes=PACKAGE_DIR)
    return text, used


def _check_header(text: str, sep: str, name: str) -> None:
    try:
        header = next(csv.reader(io.StringIO(text.lstrip("\r\n")), delimiter=sep), [])
    except csv.Error as err:
        raise DataError(f"{name}: the header line cannot be read ({err})") from None
    seen = {}
    for i, col in enumerate(c.strip() for c in header):
        if col and col in seen:
            raise DataError(f"{name}: column {col!r} appears twice in the header (columns {seen[col] + 1} and "
                            f"{i + 1}); rename one so that it is clear which to use")
        seen[col] = i


def _parser_message(err: Exception) -> str:
    msg = " ".join(str(err).split())
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg)
    if m:
        return (f"line {m.group(2)} has {m.group(3)} fields but the header has {m.group(1)} (a separator inside an "
                "unquoted value, or the wrong separator?)")
    return msg


def _convert(column: pd.Series, text_only: bool, decimal_comma: bool) -> pd.Series:
    """Numbers where every value present reads as one (decimal point, or decimal comma if allowed); else
    text. Missing markers are missing, except in label columns, where only empty cells are."""
    stripped = column.str.strip()
    if text_only:
        return column.where(stripped != "", None)
    missing = stripped.isin(NA_TOKENS)
    present = stripped[~missing]
    if len(present) and present.map(lambda v: bool(_NUMBER.fullmatch(v))).all():
        return pd.to_numeric(stripped.where(~missing, None))
    if decimal_comma and len(present) and present.map(lambda v: bool(_COMMA_NUMBER.fullmatch(v))).all():
        return pd.to_numeric(stripped.str.replace(",", ".", regex=False).where(~missing, None))
    return column.where(~missing, None)
