"""How many of the numbers RevMan stored in real review files bayesmeta reproduces, per file.

For each RevMan 5 file (.rm5) it counts, straight from the XML, every result RevMan computed and stored: per
analysis the pooled estimate, CI, Z, P, tau², Chi², df, P(Chi²), I² and the test for subgroup differences (Q,
P, I²); per subgroup the first ten of those; per study row the effect, its SE, its CI and its weight. Then
`review.check()` compares what it can, and the script prints, per file: analyses, numbers stored, compared,
agreeing (to RevMan's stored precision; see bayesmeta.reviews.check), placeholders (numbers RevMan stores where
nothing is estimated: heterogeneity of one study, weights of an analysis it does not pool), differing, and not
compared, with the quantities that differ most often.

Run: python benchmarks/revman_parity.py [FILE.rm5 | FOLDER ...] [--details]
(default: the Cochrane files in tests/data/revman/cochrane; the 16 files of issue 17 are in the history of
github.com/PatrickLeBlanc/tBNMA, Data/*.rm5, and in the other repositories named in that folder's PROVENANCE.md)
"""

import sys
import time
import warnings
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import bayesmeta as bm

OUTCOME = ("EFFECT_SIZE", "CI_START", "CI_END", "Z", "P_Z", "TAU2", "CHI2", "DF", "P_CHI2", "I2", "Q", "P_Q", "I2_Q")
SUBGROUP = OUTCOME[:10]
STUDY = ("EFFECT_SIZE", "SE", "CI_START", "CI_END", "WEIGHT")
DEFAULT = Path(__file__).resolve().parent.parent / "tests" / "data" / "revman" / "cochrane"


def stored_numbers(path: Path) -> int:
    """Every result RevMan computed and stored in the file (see the module docstring)."""
    root = ET.parse(path).getroot()
    data = root.find("ANALYSES_AND_DATA")
    count = 0
    for el in ([] if data is None else data.iter()):
        kind = el.tag.rpartition("_")[2]
        names = {"OUTCOME": OUTCOME, "SUBGROUP": SUBGROUP, "DATA": STUDY}.get(kind, ())
        if el.tag.split("_")[0] in ("DICH", "CONT", "IV", "IPD"):
            count += sum(el.get(a) not in (None, "", "NaN") for a in names)
    return count


def parity(path: Path, details: bool = False) -> dict:
    t0 = time.perf_counter()
    review = bm.read_revman(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = review.check()
    seconds = time.perf_counter() - t0
    compared = table[table["where"] != "not analysed"]
    status = compared["status"] if "status" in compared else compared["agrees"].map({True: "agrees", False: "differs"})
    counts = Counter(status)
    differing = compared[status == "differs"]
    if details and len(differing):
        print(differing.to_string(max_colwidth=40))
    top = Counter(differing["quantity"]).most_common(4)
    return dict(file=path.name, analyses=len(review), stored=stored_numbers(path), compared=len(compared),
                agree=counts["agrees"], placeholder=counts["placeholder"], differ=counts["differs"],
                not_analysed=int((table["where"] == "not analysed").sum()), seconds=seconds,
                most_often=", ".join(f"{q} {n}" for q, n in top))


def main(argv):
    details = "--details" in argv
    paths = [Path(a) for a in argv if not a.startswith("--")] or [DEFAULT]
    files = sorted(f for p in paths for f in (p.glob("*.rm5") if p.is_dir() else [p]))
    head = f"{'file':32s} {'analyses':>8s} {'stored':>7s} {'compared':>8s} {'agree':>7s} {'placeh.':>7s} " \
           f"{'differ':>6s} {'n/a':>4s} {'s':>5s}  differing most often"
    print(head)
    total = Counter()
    for f in files:
        r = parity(f, details)
        print(f"{r['file'][:32]:32s} {r['analyses']:8d} {r['stored']:7d} {r['compared']:8d} {r['agree']:7d} "
              f"{r['placeholder']:7d} {r['differ']:6d} {r['not_analysed']:4d} {r['seconds']:5.1f}  {r['most_often']}")
        total.update({k: v for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
    if len(files) > 1:
        print(f"{'total':32s} {total['analyses']:8d} {total['stored']:7d} {total['compared']:8d} {total['agree']:7d} "
              f"{total['placeholder']:7d} {total['differ']:6d} {total['not_analysed']:4d} {total['seconds']:5.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
