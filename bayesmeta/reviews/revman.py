"""`read_revman`: a review file of any supported format into a `Review` (see bayesmeta.reviews).

>>> review = bm.read_revman("review.rm5")      # or a RevMan 5 CSV export, a RevMan Web data package (zip or
>>> review.analyses                             # folder), or a Metapsy table
>>> review.effects("1.2"), review.frequentist("1.2"), review.fit("1.2"), review.check("1.2")
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .benefit import apply_benefit, check_direction
from .core import Analysis, Review

FORMATS = ("rm5", "csv", "data-package", "metapsy")

__all__ = ["FORMATS", "Analysis", "Review", "read_revman"]


def read_revman(path, format: str | None = None, benefit: str | None = None) -> Review:  # noqa: A002
    """Read a review file: a RevMan 5 file (.rm5), a RevMan 5 CSV export of the analyses, a RevMan Web data package
    (its .zip or the unpacked folder) or a Metapsy-standard table; `format` ("rm5", "csv", "data-package",
    "metapsy") overrides the detection. Everything is read or nothing: a DataError names the file and the element
    or row that stopped it.

    benefit: the direction that favours the intervention, never guessed (bayesmeta.reviews.benefit): RevMan files
    state it where their graph labels read "Favours X" / "Favours Y"; elsewhere (labels that are only group names,
    RevMan Web data packages) it is "not stated" unless given here: "lower" or "higher" for every analysis that
    does not state it, or {analysis number: "lower" | "higher"} per analysis (wins over the labels). Metapsy
    tables default to "lower": lower symptom scores are better."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"no file or folder {str(path)!r}")
    if format is not None and format not in FORMATS:
        raise DataError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    if isinstance(benefit, str) or not (benefit is None or isinstance(benefit, dict)):
        check_direction(benefit, "benefit")
    fmt = format or _detect(p)
    if fmt == "metapsy":
        from .metapsy import read_metapsy

        review = read_metapsy(p, benefit=benefit if isinstance(benefit, str) else "lower")
        apply_benefit(review, None if isinstance(benefit, str) else benefit)
        return review
    if fmt == "rm5":
        from .rm5 import read_rm5 as reader
    elif fmt == "data-package":
        from .data_package import read_data_package as reader
    else:
        from .csv_export import read_csv_export as reader
    review = reader(p)
    apply_benefit(review, benefit)
    return review


def _detect(p: Path) -> str:
    from .csv_export import looks_like_export
    from .data_package import is_data_package
    from .metapsy import looks_like_metapsy
    from .text import decode_table

    if p.is_dir():
        if is_data_package(p):
            return "data-package"
        raise DataError(f"{p.name}: a folder without a RevMan Web data package (no *-data-rows.csv in it)")
    try:
        with p.open("rb") as fh:
            head = fh.read(4096)
    except OSError as err:
        raise DataError(f"{p.name}: cannot be read ({err.strerror})") from None
    if head.startswith(b"PK"):
        return "data-package"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"<") or p.suffix.lower() == ".rm5":
        return "rm5"
    text, _ = decode_table(head)
    first = text.splitlines()[0] if text.strip() else ""
    for sep in (",", ";", "\t"):
        cells = [c.strip().strip('"') for c in first.split(sep)]
        if looks_like_export(cells):
            return "csv"
        if looks_like_metapsy(cells):
            return "metapsy"
    raise DataError(f"{p.name}: not a review file this reader knows (RevMan 5 .rm5, RevMan 5 CSV export, RevMan Web "
                    "data package, Metapsy table); pass format= if it is one of them")
