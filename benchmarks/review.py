"""A whole review: a synthetic RevMan 5 file with 50 analyses (dichotomous M-H fixed and random, Peto, RD;
continuous MD and SMD, some with subgroups; generic hazard ratios; 3 to 40 studies each) is written, then read
(bm.read_revman), every analysis pooled as RevMan does and fitted with the exact engine (posterior summary and
two probabilities), then the whole `bayesmeta review` folder written without and with figures (index first,
then the reports in one process per core). Goal (issue 17): index, every report and figures in <= 10 s on 2 cores.
Prints wall time and the CPU time of all processes (the wall time depends on what else the machine runs).
Run: python benchmarks/review.py [number of analyses]"""

import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import bayesmeta as bm
from bayesmeta.reviews.output import workers_for, write_review

KINDS = [("DICH", "OR", "MH", "NO"), ("DICH", "RR", "MH", "YES"), ("DICH", "PETO_OR", "PETO", "NO"),
         ("DICH", "RD", "MH", "NO"), ("CONT", "MD", "IV", "YES"), ("CONT", "SMD", "IV", "YES"),
         ("IV", "Hazard Ratio", "IV", "YES")]


def synthetic_rm5(n_analyses: int, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    studies, outcomes = [], []
    for j in range(n_analyses):
        kind, measure, method, random = KINDS[j % len(KINDS)]
        k = int(rng.integers(3, 41))
        groups = ["Short programmes", "Long programmes"] if j % 3 == 0 and k >= 6 else [None]
        rows = []
        for i in range(k):
            sid = f"STD-{j}-{i}"
            studies.append(f'<STUDY ID="{sid}" NAME="Study {j}.{i} {2000 + i % 20}" YEAR="{2000 + i % 20}"/>')
            n1, n2 = int(rng.integers(20, 400)), int(rng.integers(20, 400))
            if kind == "DICH":
                p2 = rng.uniform(0.02, 0.4)
                p1 = min(0.95, p2 * np.exp(rng.normal(-0.3, 0.3)))
                data = dict(EVENTS_1=rng.binomial(n1, p1), TOTAL_1=n1, EVENTS_2=rng.binomial(n2, p2), TOTAL_2=n2)
            elif kind == "CONT":
                sd = rng.uniform(5, 20)
                data = dict(MEAN_1=round(rng.normal(40 - 4, 5), 1), SD_1=round(sd, 1), TOTAL_1=n1,
                            MEAN_2=round(rng.normal(40, 5), 1), SD_2=round(sd * rng.uniform(0.8, 1.2), 1), TOTAL_2=n2)
            else:
                se = 2 / np.sqrt(n1 + n2) * 2
                data = dict(EFFECT_SIZE=float(np.exp(rng.normal(-0.2, 0.15 + se))), SE=se, TOTAL_1=n1, TOTAL_2=n2)
            rows.append((groups[i % len(groups)], f'<{kind}_DATA STUDY_ID="{sid}" '
                         + " ".join(f'{a}="{v}"' for a, v in data.items()) + "/>"))
        body = []
        for g_no, g in enumerate(groups, start=1):
            if g is not None:
                body.append(f'<{kind}_SUBGROUP NO="{g_no}"><NAME>{g}</NAME>')
            body += [r for grp, r in rows if grp == g]
            if g is not None:
                body.append(f"</{kind}_SUBGROUP>")
        measure_attr = "" if kind == "IV" else f' EFFECT_MEASURE="{measure}"'
        measure_el = f"<EFFECT_MEASURE>{measure}</EFFECT_MEASURE>" if kind == "IV" else ""
        outcomes.append(
            f'<COMPARISON NO="{j + 1}"><NAME>Comparison {j + 1}</NAME>'
            f'<{kind}_OUTCOME NO="1" METHOD="{method}" RANDOM="{random}"{measure_attr} CI_TOTAL="95" '
            f'SUBGROUPS="{"YES" if groups[0] else "NO"}"><NAME>Outcome {j + 1}</NAME>{measure_el}'
            "<GROUP_LABEL_1>Programme</GROUP_LABEL_1><GROUP_LABEL_2>Control</GROUP_LABEL_2>"
            "<GRAPH_LABEL_1>Favours experimental</GRAPH_LABEL_1><GRAPH_LABEL_2>Favours control</GRAPH_LABEL_2>"
            + "".join(body) + f"</{kind}_OUTCOME></COMPARISON>")
    return ('<?xml version="1.0" encoding="ISO-8859-1"?><COCHRANE_REVIEW><COVER_SHEET><TITLE>Synthetic review'
            "</TITLE></COVER_SHEET><STUDIES_AND_REFERENCES><STUDIES><INCLUDED_STUDIES>" + "".join(studies)
            + "</INCLUDED_STUDIES></STUDIES></STUDIES_AND_REFERENCES><ANALYSES_AND_DATA>" + "".join(outcomes)
            + "</ANALYSES_AND_DATA></COCHRANE_REVIEW>").encode("latin-1")


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the report workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def read_and_fit(path):
    review = bm.read_revman(path)
    out = []
    for number in review.numbers:
        freq = review.frequentist(number)
        fit = review.fit(number, seed=1)
        summary = fit.summary()
        out.append((freq.mu, summary.iloc[0]["median"], fit.prob(f"{summary.index[0]} < 0")))
    return review, out


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.rm5"
        path.write_bytes(synthetic_rm5(n))
        bm.fit(bm.datasets.effect_data("eightschools"), tau_prior="halfnormal(5)", seed=1)  # warm-up: imports
        t0 = time.perf_counter()
        review = bm.read_revman(path)
        t_read = time.perf_counter() - t0
        studies = int(review.analyses["k"].sum())
        t0 = time.perf_counter()
        _, results = read_and_fit(path)
        t_all = time.perf_counter() - t0
        print(f"{n} analyses, {studies} study rows ({int((review.analyses['subgroups'] > 0).sum())} with subgroups)")
        print(f"read: {1000 * t_read:.0f} ms; read + RevMan pooling + exact fit of every analysis: {t_all:.2f} s "
              f"({1000 * t_all / n:.0f} ms per analysis)")
        for figures in (False, True):
            c0, t0 = cpu_seconds(), time.perf_counter()
            write_review(review, Path(tmp) / f"out{figures}", figures=figures)
            print(f"bayesmeta review (index, two fits per subgroup analysis, check, reports"
                  f"{' with forest plots' if figures else ''}): {time.perf_counter() - t0:.1f} s wall, "
                  f"{cpu_seconds() - c0:.1f} s CPU in all processes ({workers_for(n, None)} worker processes)")
