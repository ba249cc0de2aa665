"""Write the review-file fixtures of this folder (see README.md): a RevMan 5 file, a RevMan 5 CSV export and a
RevMan Web data package, with the pooled results RevMan stores in them.

The stored results are either RevMan's own (the Fleiss 1993 analyses, copied from the files RevMan 5.0.23 and
RevMan Web wrote, as R meta ships them) or computed here, independently of bayesmeta (plain Python and scipy's
distributions, no bayesmeta import), from the formulas of RevMan 5's statistical methods as R meta implements
them (`metabin`/`metacont`/`metagen` with `settings.meta("RevMan5")`):

* 2x2 tables with a zero cell get 0.5 added to every cell (study effects, their SEs and the MH sums); tables with
  no events in either arm are not estimable for OR and RR (kept, RD = 0, for RD); RD itself is uncorrected;
* Mantel-Haenszel OR with the Robins-Breslow-Greenland variance, RR and RD with Greenland-Robins variances; RD
  weights n1 n2 / N from the entered totals, the 0.5 correction only inside the variance (RevMan's own rule, as
  its stored numbers in the Cochrane file CD008625 show: see cochrane/PROVENANCE.md);
  Peto's O-E / V; inverse variance on the study effects; Q around the pooled fixed estimate (around MH for MH);
  DerSimonian-Laird tau^2 from that Q; I^2 = (Q - df) / Q; Z = |estimate| / SE on the log scale for ratios;
* RevMan's SMD: g = d (1 - 3 / (4N - 9)), SE^2 = N / (n1 n2) + g^2 / (2 (N - 3.94));
* subgroups pooled on their own; test for subgroup differences from the subgroup estimates and SEs.

Run from the repository root: python tests/data/revman/make_fixtures.py
"""

from __future__ import annotations

import math
from pathlib import Path

from scipy import stats

HERE = Path(__file__).parent
Z95 = stats.norm.ppf(0.975)


# --------------------------------------------------------------------------- formulas
def cells(a, n1, c, n2):
    b, d = n1 - a, n2 - c
    if 0 in (a, b, c, d):
        return a + 0.5, b + 0.5, c + 0.5, d + 0.5
    return float(a), float(b), float(c), float(d)


def estimable(measure, a, n1, c, n2):
    if measure == "RD":
        return True
    if a == 0 and c == 0:
        return False
    return not (measure == "OR" and a == n1 and c == n2)


def study_effect(measure, a, n1, c, n2):
    """(effect on the analysis scale, SE) of one 2x2 table."""
    A, B, C, D = cells(a, n1, c, n2)
    if measure == "OR":
        return math.log(A * D / (B * C)), math.sqrt(1 / A + 1 / B + 1 / C + 1 / D)
    if measure == "RR":
        return math.log(A / (A + B)) - math.log(C / (C + D)), math.sqrt(1 / A - 1 / (A + B) + 1 / C - 1 / (C + D))
    return a / n1 - c / n2, math.sqrt(A * B / (A + B) ** 3 + C * D / (C + D) ** 3)


def mantel_haenszel(measure, tables):
    """(pooled effect, SE, weights) by Mantel-Haenszel."""
    rows = [cells(*t) for t in tables]
    if measure == "OR":
        R = [A * D / (A + B + C + D) for A, B, C, D in rows]
        S = [B * C / (A + B + C + D) for A, B, C, D in rows]
        P = [(A + D) / (A + B + C + D) for A, B, C, D in rows]
        Q = [(B + C) / (A + B + C + D) for A, B, C, D in rows]
        r, s = sum(R), sum(S)
        var = (sum(p * x for p, x in zip(P, R)) / (2 * r * r)
               + sum(p * y + q * x for p, q, x, y in zip(P, Q, R, S)) / (2 * r * s)
               + sum(q * y for q, y in zip(Q, S)) / (2 * s * s))
        return math.log(r / s), math.sqrt(var), S
    if measure == "RR":
        R = [A * (C + D) / (A + B + C + D) for A, B, C, D in rows]
        S = [C * (A + B) / (A + B + C + D) for A, B, C, D in rows]
        V = [((A + B) * (C + D) * (A + C) - A * C * (A + B + C + D)) / (A + B + C + D) ** 2 for A, B, C, D in rows]
        return math.log(sum(R) / sum(S)), math.sqrt(sum(V) / (sum(R) * sum(S))), S
    if len(tables) == 1:  # RevMan: one study's own result
        effect, se = study_effect(measure, *tables[0])
        return effect, se, [1.0]
    W = [n1 * n2 / (n1 + n2) for _, n1, _, n2 in tables]  # entered totals: the correction is for variances only
    num = [(A * B * (C + D) ** 3 + C * D * (A + B) ** 3) / ((A + B) * (C + D) * (A + B + C + D) ** 2)
           for A, B, C, D in rows]
    rd = [a / n1 - c / n2 for a, n1, c, n2 in tables]
    return sum(w * x for w, x in zip(W, rd)) / sum(W), math.sqrt(sum(num)) / sum(W), W


def peto(tables):
    oe, var = [], []
    for a, n1, c, n2 in tables:
        n, m = n1 + n2, a + c
        oe.append(a - n1 * m / n)
        var.append(n1 * n2 * m * (n - m) / (n * n * (n - 1)))
    return oe, var


def pool(y, se, method="IV", random=False, measure=None, tables=None):
    """RevMan's pooled result: estimate, SE, z, p, tau2, chi2, df, p_chi2, I2, weights (percent)."""
    w = [1 / s**2 for s in se]
    k = len(y)
    if method == "MH":
        est, sd, wt = mantel_haenszel(measure, tables)
    elif method == "Peto":
        oe, var = peto(tables)
        y, w = [o / v for o, v in zip(oe, var)], var
        est, sd, wt = sum(oe) / sum(var), math.sqrt(1 / sum(var)), var
    else:
        est = sum(wi * yi for wi, yi in zip(w, y)) / sum(w)
        sd, wt = math.sqrt(1 / sum(w)), w
    q = sum(wi * (yi - est) ** 2 for wi, yi in zip(w, y)) if k > 1 else 0.0
    tau2 = 0.0
    if random and k > 1:
        tau2 = max(0.0, (q - (k - 1)) / (sum(w) - sum(x * x for x in w) / sum(w)))
        ws = [1 / (s**2 + tau2) for s in se]
        est = sum(wi * yi for wi, yi in zip(ws, y)) / sum(ws)
        sd, wt = math.sqrt(1 / sum(ws)), ws
    z = abs(est) / sd
    out = dict(est=est, se=sd, z=z, p_z=2 * stats.norm.sf(z), tau2=tau2, chi2=q, df=k - 1,
               p_chi2=stats.chi2.sf(q, k - 1) if k > 1 else float("nan"),
               I2=max(0.0, 100 * (q - (k - 1)) / q) if k > 1 and q > 0 else 0.0,
               weights=[100 * x / sum(wt) for x in wt])
    out["lower"], out["upper"] = est - Z95 * sd, est + Z95 * sd
    return out


def subgroup_test(results):
    w = [1 / r["se"] ** 2 for r in results]
    mean = sum(wi * r["est"] for wi, r in zip(w, results)) / sum(w)
    q = sum(wi * (r["est"] - mean) ** 2 for wi, r in zip(w, results))
    df = len(results) - 1
    return dict(chi2=q, df=df, p=stats.chi2.sf(q, df), I2=max(0.0, 100 * (q - df) / q) if q > 0 else 0.0)


def smd_revman(m1, s1, n1, m2, s2, n2):
    n = n1 + n2
    sp = math.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (n - 2))
    g = (m1 - m2) / sp * (1 - 3 / (4 * n - 9))
    return g, math.sqrt(n / (n1 * n2) + g**2 / (2 * (n - 3.94)))


def md(m1, s1, n1, m2, s2, n2):
    return m1 - m2, math.sqrt(s1**2 / n1 + s2**2 / n2)


# --------------------------------------------------------------------------- the data
# name, year; study IDs are "STD-" + the name with spaces as "-" (RevMan escapes characters, e.g. _x002d_)
STUDIES = [("MRC-1", 1974), ("CDP", 1976), ("MRC-2", 1979), ("GASP", 1979), ("PARIS", 1980), ("AMIS", 1980),
           ("ISIS-2", 1988), ("Adams 2004", 2004), ("Brown 2006", 2006), ("Chen 2009", 2009), ("Dubois 2011", 2011),
           ("Evans 2007", 2007), ("Fischer 2010", 2010), ("García 2013", 2013), ("Hall 2015", 2015),
           ("Ito 2008", 2008), ("Jones 2010", 2010), ("Kim 2012", 2012), ("López 2014", 2014),
           ("Müller 2001", 2001), ("Novak 2003", 2003), ("O'Brien 2005", 2005), ("Patel 2012", 2012),
           ("Quinn 2016", 2016), ("Ross 2018", 2018), ("Davis", 1973), ("Florell", 1971), ("Gruen", 1975),
           ("Hart", 1975), ("Wilson", 1977)]

ASPIRIN = [("MRC-1", 49, 615, 67, 624), ("CDP", 44, 758, 64, 771), ("MRC-2", 102, 832, 126, 850),
           ("GASP", 32, 317, 38, 309), ("PARIS", 85, 810, 52, 406), ("AMIS", 246, 2267, 219, 2257),
           ("ISIS-2", 1570, 8587, 1720, 8600)]
# RevMan 5.0.23's stored results for the aspirin analysis (R meta's inst/extdata/Fleiss1993.rm5)
ASPIRIN_REVMAN = dict(EFFECT_SIZE="0.8968655609130709", CI_START="0.8405144008917793", CI_END="0.9569947088336491",
                      Z="3.287633061337987", P_Z="0.0010103343130005407", CHI2="9.946055983220074", DF="6",
                      P_CHI2="0.1269422521561745", I2="39.67458045558399", TAU2="0.0")
ASPIRIN_STUDIES_REVMAN = {  # EFFECT_SIZE, SE, WEIGHT per study, as RevMan 5.0.23 stored them
    "MRC-1": ("0.7197141500975687", "0.1972198088133556", "3.176490004091248"),
    "CDP": ("0.6807598039215687", "0.20289716633892102", "3.1016891143394365"),
    "MRC-2": ("0.8028701891715591", "0.14314855217027966", "5.675380442715663"),
    "GASP": ("0.8007386888273315", "0.2544888962290453", "1.795484618258711"),
    "PARIS": ("0.7981432360742705", "0.18761568222036212", "3.2176243566716805"),
    "AMIS": ("1.1327364047365673", "0.098064939620213", "10.153491219997628"),
    "ISIS-2": ("0.8949693601254097", "0.03880976559851533", "72.87984024392564")}
MENTAL = [("Davis", 5.0, 4.7, 13, 6.5, 3.8, 13), ("Florell", 4.9, 1.71, 30, 6.1, 2.3, 50),
          ("Gruen", 22.5, 3.44, 35, 24.9, 10.65, 35), ("Hart", 12.5, 1.47, 20, 12.3, 1.66, 20),
          ("Wilson", 6.5, 0.76, 8, 7.38, 1.41, 8)]

ADMISSION = {"Adults": [("Adams 2004", 19, 150, 20, 148), ("Brown 2006", 0, 40, 4, 42), ("Chen 2009", 44, 310, 41, 305),
                        ("Dubois 2011", 5, 60, 11, 58)],
             "Older adults": [("Evans 2007", 6, 90, 25, 92), ("Fischer 2010", 0, 25, 0, 27),
                              ("García 2013", 22, 200, 25, 198), ("Hall 2015", 3, 45, 15, 47)]}
ADVERSE = [("Ito 2008", 1, 120, 4, 118), ("Jones 2010", 0, 80, 3, 82), ("Kim 2012", 2, 210, 5, 205),
           ("López 2014", 0, 60, 1, 61)]
DROPOUT = [("Adams 2004", 10, 150, 8, 148), ("Brown 2006", 0, 40, 0, 42), ("Chen 2009", 25, 310, 19, 305),
           ("Evans 2007", 0, 90, 2, 92)]
RESPONSE = [("Müller 2001", 18, 40, 10, 41), ("Novak 2003", 25, 60, 20, 62), ("O'Brien 2005", 30, 55, 14, 53),
            ("Patel 2012", 44, 100, 41, 98), ("Quinn 2016", 12, 30, 5, 31)]
NO_EVENTS = [("Fischer 2010", 0, 25, 0, 27), ("López 2014", 0, 60, 0, 61)]
PAIN = {"Internet-delivered": [("Adams 2004", 42.1, 18.2, 75, 50.3, 19.0, 74),
                               ("Chen 2009", 38.5, 20.1, 150, 44.0, 21.5, 152),
                               ("Evans 2007", 47.0, 16.8, 45, 49.5, 17.2, 46)],
        "Face to face": [("Hall 2015", 35.2, 15.5, 40, 48.8, 16.1, 41), ("Kim 2012", 40.4, 22.0, 88, 52.1, 20.7, 90),
                         ("Ross 2018", 44.9, 19.3, 60, 45.2, 18.8, 59)]}
DEPRESSION = [("Müller 2001", 12.1, 6.2, 40, 14.8, 6.9, 41), ("Novak 2003", 10.4, 5.5, 60, 11.2, 5.9, 62),
              ("O'Brien 2005", 15.0, 7.1, 55, 18.9, 7.4, 53), ("Patel 2012", 9.8, 4.9, 100, 12.5, 5.2, 98),
              ("Quinn 2016", 13.3, 0.0, 30, 14.1, 6.0, 31)]  # Quinn: SD not reported (0): not estimable
SURVIVAL = [("Adams 2004", 0.78, 0.12), ("Chen 2009", 0.91, 0.09), ("Kim 2012", 0.65, 0.21), ("Ross 2018", 1.05, 0.15)]
O_E = [("Ito 2008", -3.2, 10.5, 120, 118), ("Jones 2010", -1.4, 6.1, 80, 82), ("Patel 2012", 0.8, 12.3, 100, 98)]


def sid(name):
    return "STD-" + name.replace(" ", "-").replace("'", "").replace("í", "i").replace("ó", "o").replace("ü", "u")


# --------------------------------------------------------------------------- analyses: data + stored results
def dich(measure, method, random, groups):
    """groups: {subgroup or None: [(name, a, n1, c, n2)]} -> per-study rows, per-subgroup and overall results."""
    def result(tables):
        ok = [t for t in tables if estimable(measure, *t[1:])]
        if not ok:
            return None
        ys = [study_effect(measure, *t[1:]) for t in ok]
        return pool([y for y, _ in ys], [s for _, s in ys], method, random, measure, [t[1:] for t in ok])

    everything = [t for ts in groups.values() for t in ts]
    overall = result(everything)
    subs = {g: result(ts) for g, ts in groups.items() if g is not None}
    test = subgroup_test(list(subs.values())) if subs else None
    studies = {}
    ok_all = [t for t in everything if estimable(measure, *t[1:])]
    for t in everything:
        if not estimable(measure, *t[1:]):
            studies[t[0]] = None
            continue
        if method == "Peto":
            oe, var = peto([t[1:]])
            y, se = oe[0] / var[0], 1 / math.sqrt(var[0])
        else:
            y, se = study_effect(measure, *t[1:])
        studies[t[0]] = (y, se, overall["weights"][ok_all.index(t)] if not subs else None)
    return overall, subs, test, studies


def cont(measure, random, groups):
    f = smd_revman if measure == "SMD" else md

    def ok(t):
        return t[2] > 0 and t[5] > 0

    def result(ts):
        es = [f(*t[1:]) for t in ts if ok(t)]
        return pool([e for e, _ in es], [s for _, s in es], "IV", random)

    everything = [t for ts in groups.values() for t in ts]
    overall = result(everything)
    subs = {g: result(ts) for g, ts in groups.items() if g is not None}
    good = [t for t in everything if ok(t)]
    studies = {t[0]: (*f(*t[1:]), overall["weights"][good.index(t)] if not subs else None) if ok(t) else None
               for t in everything}
    return overall, subs, subgroup_test(list(subs.values())) if subs else None, studies


def generic(rows, random):
    y = [math.log(hr) for _, hr, _ in rows]
    se = [s for *_, s in rows]
    overall = pool(y, se, "IV", random)
    return overall, {}, None, {n: (yi, si, w) for (n, _, _), yi, si, w in zip(rows, y, se, overall["weights"])}


def oe_var(rows):
    y = [o / v for _, o, v, *_ in rows]
    se = [1 / math.sqrt(v) for _, _, v, *_ in rows]
    overall = pool(y, se, "IV", False)
    return overall, {}, None, {r[0]: (yi, si, w) for r, yi, si, w in zip(rows, y, se, overall["weights"])}


# --------------------------------------------------------------------------- RevMan 5 (.rm5)
def fmt(x):
    return "" if x is None else repr(float(x))


def shown(x, ratio):
    return math.exp(x) if ratio else x


def stored_attrs(r, ratio, test=None):
    if r is None:
        return dict(EFFECT_SIZE="", CI_START="", CI_END="", Z="", P_Z="", CHI2="", DF="0", P_CHI2="", I2="",
                    TAU2="", ESTIMABLE="NO")
    out = dict(EFFECT_SIZE=fmt(shown(r["est"], ratio)), CI_START=fmt(shown(r["lower"], ratio)),
               CI_END=fmt(shown(r["upper"], ratio)), Z=fmt(r["z"]), P_Z=fmt(r["p_z"]), CHI2=fmt(r["chi2"]),
               DF=str(r["df"]), P_CHI2=fmt(r["p_chi2"]) if r["df"] > 0 else "1.0", I2=fmt(r["I2"]),
               TAU2=fmt(r["tau2"]), ESTIMABLE="YES")
    if ratio:
        out.update(LOG_EFFECT_SIZE=fmt(r["est"] / math.log(10)), LOG_CI_START=fmt(r["lower"] / math.log(10)),
                   LOG_CI_END=fmt(r["upper"] / math.log(10)))
    if test is not None:
        out.update(Q=fmt(test["chi2"]), P_Q=fmt(test["p"]), I2_Q=fmt(test["I2"]))
    else:
        out.update(Q="0.0", P_Q="1.0", I2_Q="0.0")
    return out


def attrs(d):
    return " ".join(f'{k}="{v}"' for k, v in d.items())


def xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def rm5_outcome(kind, no, name, measure, method, random, groups, labels, result, data_attrs, extra="",
                footnotes=None, stored=None, study_stored=None):
    overall, subs, test, studies = result
    ratio = measure in ("OR", "RR", "PETO_OR") or kind == "IV" and measure == "Hazard Ratio"
    head = dict(ID=f"CMP-001.{no:02d}", NO=str(no), METHOD=method, RANDOM="YES" if random else "NO",
                SUBGROUPS="YES" if subs else "NO", SUBGROUP_TEST="YES", TOTALS="YES", CI_STUDY="95", CI_TOTAL="95",
                SWAP_EVENTS="NO")
    if kind != "IV":
        head["EFFECT_MEASURE"] = measure
    head.update(stored or stored_attrs(overall, ratio, test))
    lines = [f"<{kind}_OUTCOME {attrs(head)} {extra}".rstrip() + ">", f"<NAME>{xml_escape(name)}</NAME>"]
    if kind == "IV":
        lines.append(f"<EFFECT_MEASURE>{measure}</EFFECT_MEASURE>")
    lines += [f"<GROUP_LABEL_1>{labels[0]}</GROUP_LABEL_1>", f"<GROUP_LABEL_2>{labels[1]}</GROUP_LABEL_2>",
              f"<GRAPH_LABEL_1>{labels[2]}</GRAPH_LABEL_1>", f"<GRAPH_LABEL_2>{labels[3]}</GRAPH_LABEL_2>"]
    order = 0
    for g, rows in groups.items():
        if g is not None:
            sub = subs[g]
            sub_attrs = dict(NO=str(list(groups).index(g) + 1), **stored_attrs(sub, ratio))
            lines.append(f"<{kind}_SUBGROUP {attrs(sub_attrs)}>")
            lines.append(f"<NAME>{xml_escape(g)}</NAME>")
        for row in rows:
            order += 1
            st = studies[row[0]]
            if study_stored and row[0] in study_stored:
                es, se, wt = study_stored[row[0]]
                s_attrs = dict(EFFECT_SIZE=es, SE=se, WEIGHT=wt)
            elif st is None:
                s_attrs = dict(EFFECT_SIZE="", SE="", WEIGHT="0.0", ESTIMABLE="NO")
            else:
                s_attrs = dict(EFFECT_SIZE=fmt(shown(st[0], ratio)), SE=fmt(st[1]),
                               WEIGHT=fmt(st[2]) if st[2] is not None else "", ESTIMABLE="YES")
            body = data_attrs(row)
            note = (footnotes or {}).get(row[0])
            tag = f"<{kind}_DATA {attrs(dict(ORDER=str(order), STUDY_ID=sid(row[0]), **body, **s_attrs))}"
            lines.append(tag + (f"><FOOTNOTE><P>{xml_escape(note)}</P></FOOTNOTE></{kind}_DATA>" if note else "/>"))
        if g is not None:
            lines.append(f"</{kind}_SUBGROUP>")
    lines.append(f"</{kind}_OUTCOME>")
    return "\n".join(lines)


def dich_attrs(row):
    _, a, n1, c, n2 = row
    return dict(EVENTS_1=str(a), TOTAL_1=str(n1), EVENTS_2=str(c), TOTAL_2=str(n2))


def cont_attrs(row):
    _, m1, s1, n1, m2, s2, n2 = row
    return dict(MEAN_1=repr(m1), SD_1=repr(s1), TOTAL_1=str(n1), MEAN_2=repr(m2), SD_2=repr(s2), TOTAL_2=str(n2))


def write_rm5():
    exp = ("Favours experimental", "Favours control")
    parts = [
        rm5_outcome("DICH", 1, "Death (aspirin after myocardial infarction)", "OR", "MH", False, {None: ASPIRIN},
                    ("Aspirin", "Control", *exp), dich("OR", "MH", False, {None: ASPIRIN}), dich_attrs,
                    stored=ASPIRIN_REVMAN, study_stored=ASPIRIN_STUDIES_REVMAN),
        rm5_outcome("DICH", 2, "Hospital admission", "RR", "MH", True, ADMISSION, ("Programme", "Usual care", *exp),
                    dich("RR", "MH", True, ADMISSION), dich_attrs,
                    footnotes={"Brown 2006": "No admissions in the programme arm"}),
        rm5_outcome("DICH", 3, "Serious adverse events", "PETO_OR", "PETO", False, {None: ADVERSE},
                    ("Programme", "Usual care", *exp), dich("OR", "Peto", False, {None: ADVERSE}), dich_attrs),
        rm5_outcome("DICH", 4, "Dropout", "RD", "MH", False, {None: DROPOUT}, ("Programme", "Usual care", *exp),
                    dich("RD", "MH", False, {None: DROPOUT}), dich_attrs),
        rm5_outcome("DICH", 5, "Response", "OR", "IV", True, {None: RESPONSE},
                    ("Programme", "Usual care", "Favours usual care", "Favours programme"),
                    dich("OR", "IV", True, {None: RESPONSE}), dich_attrs),
        rm5_outcome("DICH", 6, "Suicide attempts", "RR", "MH", False, {None: NO_EVENTS},
                    ("Programme", "Usual care", *exp), (None, {}, None, {r[0]: None for r in NO_EVENTS}), dich_attrs),
    ]
    parts2 = [
        rm5_outcome("CONT", 1, "Pain intensity (0\x96100 VAS)", "MD", "IV", True, PAIN,
                    ("CBT", "Control", *exp), cont("MD", True, PAIN), cont_attrs,
                    footnotes={"Kim 2012": "SDs from the authors"}),
        rm5_outcome("CONT", 2, "Depression", "SMD", "IV", True, {None: DEPRESSION}, ("CBT", "Control", *exp),
                    cont("SMD", True, {None: DEPRESSION}), cont_attrs),
        rm5_outcome("CONT", 3, "Mental health (Fleiss 1993)", "MD", "IV", False, {None: MENTAL},
                    ("Mental health treatment", "Control", *exp), cont("MD", False, {None: MENTAL}), cont_attrs),
    ]
    parts3 = [
        rm5_outcome("IV", 1, "Time to relapse", "Hazard Ratio", "IV", True, {None: SURVIVAL},
                    ("CBT", "Control", *exp), generic(SURVIVAL, True),
                    lambda r: dict(TOTAL_1="0", TOTAL_2="0", CI_START=fmt(r[1] * math.exp(-Z95 * r[2])),
                                   CI_END=fmt(r[1] * math.exp(Z95 * r[2]))), extra='LOG_DATA="YES"'),
        rm5_outcome("IPD", 2, "Relapse (O-E and variance)", "PETO_OR", "EXP_O_E_VAR", False, {None: O_E},
                    ("CBT", "Control", *exp), oe_var(O_E),
                    lambda r: dict(O_E=repr(r[1]), VAR=repr(r[2]), TOTAL_1=str(r[3]), TOTAL_2=str(r[4]))),
    ]
    studies = "\n".join(f'<STUDY DATA_SOURCE="PUB" ID="{sid(n)}" NAME="{xml_escape(n)}" YEAR="{y}">\n'
                        '<REFERENCE PRIMARY="YES" TYPE="JOURNAL_ARTICLE"/>\n</STUDY>' for n, y in STUDIES)
    text = f"""<?xml version="1.0" encoding="ISO-8859-1" standalone="no"?>
<COCHRANE_REVIEW DESCRIPTION="" DOI="10.1002/14651858.CD000000" ID="0000000000000000001" REVMAN_SUB_VERSION="5.4.1" REVMAN_VERSION="5" STAGE="R" STATUS="A" TYPE="INTERVENTION">
<COVER_SHEET>
<TITLE>Psychological programmes for adults with chronic pain: a test review (bayesmeta fixture)</TITLE>
</COVER_SHEET>
<MAIN_TEXT><SUMMARY><TITLE>[Plain language title]</TITLE></SUMMARY></MAIN_TEXT>
<STUDIES_AND_REFERENCES>
<STUDIES>
<INCLUDED_STUDIES>
{studies}
</INCLUDED_STUDIES>
</STUDIES>
</STUDIES_AND_REFERENCES>
<ANALYSES_AND_DATA CALCULATED_DATA="YES">
<COMPARISON ID="CMP-001" NO="1">
<NAME>Programme versus usual care: dichotomous outcomes</NAME>
{chr(10).join(parts)}
</COMPARISON>
<COMPARISON ID="CMP-002" NO="2">
<NAME>CBT versus control: continuous outcomes</NAME>
{chr(10).join(parts2).replace('ID="CMP-001.', 'ID="CMP-002.')}
</COMPARISON>
<COMPARISON ID="CMP-003" NO="3">
<NAME>CBT versus control: generic inverse variance</NAME>
{chr(10).join(parts3).replace('ID="CMP-001.', 'ID="CMP-003.')}
</COMPARISON>
</ANALYSES_AND_DATA>
</COCHRANE_REVIEW>
"""
    raw = text.encode("latin-1")  # declared ISO-8859-1: "García", "López", "Müller" as Latin-1 bytes, "\x96" a
    # Windows-1252 en dash (C1 range) ...
    # ... and one stray UTF-8 sequence, as real files have: the footnote "No admissions in the programme arm"
    # gets a UTF-8 "≥" and a control character (0x0B, not allowed in XML 1.0)
    raw = raw.replace(b"No admissions in the programme arm",
                      "No admissions \u2265 1 day in the programme arm".encode("utf-8") + b"\x0b")
    (HERE / "review.rm5").write_bytes(raw)


# --------------------------------------------------------------------------- RevMan 5 CSV export
HEADER = ["Comparison Number", "Outcome Number", "Subgroup Number", "Name", "Data Type", "Statistical Method",
          "Effect Measure", "Analysis Model", "Events 1", "Mean 1", "SD 1", "Total 1", "Events 2", "Mean 2", "SD 2",
          "Total 2", "Effect Estimate", "SE", "CI Start", "CI End", "Weight", "Q", "P(Q)", "I²(Q)", "Tau²", "Z",
          "P(Z)", "Qint", "P(Qint)", "I²(Qint)", "df", "Group Label 1", "Group Label 2", "Left Graph Label",
          "Right Graph Label", "Year of study", "User defined order"]


def f8(x):
    return f"{x:.8f}".rstrip("0").rstrip(".") if x is not None else ""


def csv_line(cells):
    out = []
    for c in cells:
        s = "" if c is None else str(c)
        out.append(f'"{s}"' if "," in s or '"' in s else s)
    return ",".join(out)


def write_csv_export():
    # the Fleiss 1993 analyses as RevMan 5 exported them (R meta's inst/extdata/Fleiss1993_CR.csv) ...
    fleiss = """1,0,0,Examples from Fleiss (1993),,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,
1,1,0,Aspirin for Preventing Death after Myocardial Infarction,DIC,MH,OR,Fixed,"2,128",,,"14,186","2,286",,,"13,817",0.89686556,,0.8405144,0.95699471,100,9.94605598,0.12694225,39.67458046,0,3.28763306,0.00101033,0,0,0,6,Aspirin,Control,Favours experimental,Favours control,,
1,1,0,MRC-1,,,,,49,0,0,615,67,0,0,624,0.71971415,0.19721981,0.48897453,1.05933628,3.17649,,,,,,,,,,,,,,,1974,1
1,1,0,CDP,,,,,44,0,0,758,64,0,0,771,0.6807598,0.20289717,0.4573909,1.01321191,3.10168911,,,,,,,,,,,,,,,1976,2
1,1,0,MRC-2,,,,,102,0,0,832,126,0,0,850,0.80287019,0.14314855,0.60645288,1.06290292,5.67538044,,,,,,,,,,,,,,,1979,6
1,1,0,GASP,,,,,32,0,0,317,38,0,0,309,0.80073869,0.2544889,0.48626104,1.31859721,1.79548462,,,,,,,,,,,,,,,1979,8
1,1,0,PARIS,,,,,85,0,0,810,52,0,0,406,0.79814324,0.18761568,0.55256335,1.15286803,3.21762436,,,,,,,,,,,,,,,1980,9
1,1,0,AMIS,,,,,246,0,0,2267,219,0,0,2257,1.1327364,0.09806494,0.93466468,1.37278298,10.15349122,,,,,,,,,,,,,,,1980,10
1,1,0,ISIS-2,,,,,"1,570",0,0,"8,587","1,720",0,0,"8,600",0.89496936,0.03880977,0.82941758,0.96570193,72.87984024,,,,,,,,,,,,,,,1988,11
1,2,0,Mental Health Treatment versus Control,CON,IV,MD,Fixed,0,,,106,0,,,126,-0.70938839,,-1.25848502,-0.16029176,100,5.66012379,0.22600895,29.33016758,0,2.53211477,0.01133769,0,1,0,4,Mental Health Treatment,Control,Favours experimental,Favours control,,
1,2,0,Davis,,,,,0,5,4.7,13,0,6.5,3.8,13,-1.5,1.67630546,-4.78549833,1.78549833,2.79315513,,,,,,,,,,,,,,,1973,12
1,2,0,Florell,,,,,0,4.9,1.71,30,0,6.1,2.3,50,-1.2,0.45085474,-2.08365906,-0.31634094,38.61251498,,,,,,,,,,,,,,,1971,13
1,2,0,Gruen,,,,,0,22.5,3.44,35,0,24.9,10.65,35,-2.4,1.89175731,-6.10777619,1.30777619,2.19316111,,,,,,,,,,,,,,,1975,14
1,2,0,Hart,,,,,0,12.5,1.47,20,0,12.3,1.66,20,0.2,0.49580742,-0.77176469,1.17176469,31.92826572,,,,,,,,,,,,,,,1975,15
1,2,0,Wilson,,,,,0,6.5,0.76,8,0,7.38,1.41,8,-0.88,0.56631484,-1.98995669,0.22995669,24.47290305,,,,,,,,,,,,,,,1977,16"""
    lines = [csv_line(HEADER), *fleiss.splitlines()]
    # ... and a random-effects MH risk ratio with subgroups and zero cells, computed here
    overall, subs, test, studies = dich("RR", "MH", True, ADMISSION)
    ev = [sum(t[1] for ts in ADMISSION.values() for t in ts), sum(t[2] for ts in ADMISSION.values() for t in ts),
          sum(t[3] for ts in ADMISSION.values() for t in ts), sum(t[4] for ts in ADMISSION.values() for t in ts)]

    def pooled_cells(r, test=None, n=None):
        e = math.exp
        cells = [f8(e(r["est"])), "", f8(e(r["lower"])), f8(e(r["upper"])), "100", f8(r["chi2"]), f8(r["p_chi2"]),
                 f8(r["I2"]), f8(r["tau2"]), f8(r["z"]), f8(r["p_z"])]
        cells += [f8(test["chi2"]), f8(test["p"]), f8(test["I2"])] if test else ["0", "0", "0"]
        return cells + [str(r["df"])]

    lines.append(csv_line([2, 0, 0, "Programme versus usual care"] + [""] * 33))
    lines.append(csv_line([2, 1, 0, "Hospital admission", "DIC", "MH", "RR", "Random", ev[0], "", "", ev[1], ev[2], "",
                           "", ev[3], *pooled_cells(overall, test), "Programme", "Usual care", "Favours experimental",
                           "Favours control", "", ""]))
    order = 0
    for g_no, (g, rows) in enumerate(ADMISSION.items(), start=1):
        sub = subs[g]
        lines.append(csv_line([2, 1, g_no, g, "DIC", "MH", "RR", "Random", "", "", "", "", "", "", "", "",
                               *pooled_cells(sub), "", "", "", "", "", ""]))
        for name, a, n1, c, n2 in rows:
            order += 1
            st = studies[name]
            if st is None:
                est = ["", "", "", "", "0"]
            else:
                y, se, _ = st
                est = [f8(math.exp(y)), f8(se), f8(math.exp(y - Z95 * se)), f8(math.exp(y + Z95 * se)), ""]
            lines.append(csv_line([2, 1, g_no, name, "", "", "", "", a, 0, 0, n1, c, 0, 0, n2, *est,
                                   *[""] * 14, name[-4:], order]))
    text = "\r\n".join(lines) + "\r\n"
    (HERE / "review_export.csv").write_bytes(text.encode("cp1252"))  # RevMan 5 on Windows: "I²", "García" in cp1252


# --------------------------------------------------------------------------- RevMan Web data package
def f6(x):
    return "" if x is None else (f"{x:.6f}".rstrip("0").rstrip(".") or "0")


def write_data_package():
    folder = HERE / "CD000000-dataPackage" / "CD000000-analysis-data"
    folder.mkdir(parents=True, exist_ok=True)
    settings_header = ["Analysis group", "Analysis number", "Analysis name", "Analysis group name", "Data source",
                       "Data source eligibility", "Data type", "Log-scale data", "Outcome", "Intervention grouping",
                       "Experimental intervention", "Control intervention", "Subgroup by", "Filter criteria",
                       "Experimental group label", "Control group label", "Statistical method", "Effect measure",
                       "Unit of effect measure", "Analysis model", "Subgroup estimates", "Overall estimates",
                       "Test for subgroup differences", "Swap event and non-event", "Study CI", "Estimate CI",
                       "Experimental cases", "Experimental N", "Control cases", "Control N", "Mean", "CI start",
                       "CI end", "Heterogeneity Tau²", "Heterogeneity Chi²", "Heterogeneity df", "Heterogeneity P",
                       "Heterogeneity I²", "Effect Z", "Effect P", "Subgroup Chi²", "Subgroup df", "Subgroup P",
                       "Subgroup I²", "ID"]
    # analysis 1.1: RevMan Web's conversion of the Fleiss 1993 aspirin analysis (R meta's inst/extdata/Fleiss1993.zip)
    settings = [
        "1,1,Aspirin for Preventing Death after Myocardial Infarction,Examples from Fleiss (1993),Custom input,#N/A,"
        "Dichotomous,true,,,,,,,Aspirin,Control,MH,Odds Ratio,,Fixed effect,true,true,true,false,95%,95%,2128,14186,"
        "2286,13817,0.896866,0.840514,0.956995,,9.946056,6,0.126942,39.67458,3.287633,0.00101,,,,,"
        "analysis:444821446161559182"]
    rows_header = ["Analysis group", "Analysis number", "Analysis name", "Subgroup", "Applicability", "Study",
                   "Study year", "GIV Mean", "GIV SE", "Experimental mean", "Experimental SD", "Experimental cases",
                   "Experimental N", "Control mean", "Control SD", "Control cases", "Control N", "O-E", "Variance",
                   "Weight", "Mean", "CI start", "CI end", "Footnotes"]
    fleiss_rows = {"AMIS": ("10.153491", "1.132736", "0.934665", "1.372783"),
                   "CDP": ("3.101689", "0.68076", "0.457391", "1.013212"),
                   "GASP": ("1.795485", "0.800739", "0.486261", "1.318597"),
                   "ISIS-2": ("72.87984", "0.894969", "0.829418", "0.965702"),
                   "MRC-1": ("3.17649", "0.719714", "0.488975", "1.059336"),
                   "MRC-2": ("5.67538", "0.80287", "0.606453", "1.062903"),
                   "PARIS": ("3.217624", "0.798143", "0.552563", "1.152868")}
    year = dict(STUDIES)
    rows = []
    for name, a, n1, c, n2 in sorted(ASPIRIN):
        w, m, lo, hi = fleiss_rows[name]
        rows.append(csv_line([1, 1, "Aspirin for Preventing Death after Myocardial Infarction", "",
                              "SUBGROUP_AND_OVERALL", name, year[name], "0.0", "0.0", "0.0", "0.0", a, n1, "0.0",
                              "0.0", c, n2, "0.0", "0.0", w, m, lo, hi, ""]))
    # analysis 1.2: generic inverse variance hazard ratios (GIV Mean on the log scale), random effects
    overall, _, _, studies = generic(SURVIVAL, True)
    e = math.exp
    settings.append(csv_line([1, 2, "Time to relapse", "Examples from Fleiss (1993)", "Custom input", "#N/A",
                              "Contrast level", "true", "", "", "", "", "", "", "CBT", "Control", "IV", "Hazard Ratio",
                              "", "Random effects", "false", "true", "true", "false", "95%", "95%", "", "", "", "",
                              f6(e(overall["est"])), f6(e(overall["lower"])), f6(e(overall["upper"])),
                              f6(overall["tau2"]), f6(overall["chi2"]), overall["df"], f6(overall["p_chi2"]),
                              f6(overall["I2"]), f6(overall["z"]), f6(overall["p_z"]), "", "", "", "",
                              "analysis:1000000000000000002"]))
    for name, hr, se in SURVIVAL:
        y, s, w = studies[name]
        rows.append(csv_line([1, 2, "Time to relapse", "", "SUBGROUP_AND_OVERALL", name, year[name], repr(y), repr(s),
                              "0.0", "0.0", "0", "0", "0.0", "0.0", "0", "0", "0.0", "0.0", f6(w), f6(e(y)),
                              f6(e(y - Z95 * s)), f6(e(y + Z95 * s)), ""]))
    # analysis 2.1: SMD (RevMan's) with subgroups, random effects
    overall, subs, test, studies = cont("SMD", True, PAIN)
    settings.append(csv_line([2, 1, "Pain intensity", "CBT versus control", "Custom input", "#N/A", "Continuous",
                              "false", "", "", "", "", "Delivery", "", "CBT", "Control", "IV",
                              "Std. Mean Difference", "", "Random effects", "true", "true", "true", "false", "95%",
                              "95%", "", "", "", "", f6(overall["est"]), f6(overall["lower"]), f6(overall["upper"]),
                              f6(overall["tau2"]), f6(overall["chi2"]), overall["df"], f6(overall["p_chi2"]),
                              f6(overall["I2"]), f6(overall["z"]), f6(overall["p_z"]), f6(test["chi2"]), test["df"],
                              f6(test["p"]), f6(test["I2"]), "analysis:1000000000000000003"]))
    sub_header = ["Analysis group", "Analysis number", "Subgroup", "Subgroup number", "Experimental cases",
                  "Experimental N", "Control cases", "Control N", "Weight", "Mean", "CI start", "CI end",
                  "Heterogeneity Tau²", "Heterogeneity Chi²", "Heterogeneity df", "Heterogeneity P",
                  "Heterogeneity I²", "Effect Z", "Effect P", "ID"]
    sub_rows = []
    for g_no, (g, ts) in enumerate(PAIN.items(), start=1):
        r = subs[g]
        sub_rows.append(csv_line([2, 1, g, g_no, "", "", "", "", "", f6(r["est"]), f6(r["lower"]), f6(r["upper"]),
                                  f6(r["tau2"]), f6(r["chi2"]), r["df"], f6(r["p_chi2"]), f6(r["I2"]), f6(r["z"]),
                                  f6(r["p_z"]), f"subgroup:{g_no}"]))
        for name, m1, s1, n1, m2, s2, n2 in ts:
            y, s, _ = studies[name]
            rows.append(csv_line([2, 1, "Pain intensity", g, "SUBGROUP_AND_OVERALL", name, year[name], "0.0", "0.0",
                                  m1, s1, "0", n1, m2, s2, "0", n2, "0.0", "0.0", "", f6(y), f6(y - Z95 * s),
                                  f6(y + Z95 * s), "SD from a figure" if name == "Kim 2012" else ""]))
    bom = "\ufeff"
    for fname, header, body in (("overall-estimates-and-settings", settings_header, settings),
                                ("data-rows", rows_header, rows), ("subgroup-estimates", sub_header, sub_rows)):
        text = bom + "\n".join([csv_line(header), *body]) + "\n"
        (folder / f"CD000000-{fname}.csv").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    write_rm5()
    write_csv_export()
    write_data_package()
