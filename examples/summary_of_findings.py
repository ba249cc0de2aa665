"""Summary of findings (GRADE) from posteriors: a whole review's table, and the seeds' published pooled results.

1. models/bodily_distress_sof.toml: psychological therapy against control for adults with bodily distress
   (the bundled Metapsy database), somatic symptoms after treatment (internet-delivered and other formats) and
   at follow-up, depression, anxiety and physical health status; one Bayesian random-effects fit per outcome.
2. The pooled results the internet-CBT-for-chronic-pain reviews published (bundled 'published_pooled_icbt'),
   read the Bayesian way: with a flat prior the posterior of the pooled SMD is N(estimate, se^2), se from the
   95% CI. The bundled data do not hold the reviews' own GRADE ratings, so the judgements entered below are
   ours, with the reason for each (the Eccleston abstract's "mostly wait-list controls, non-clinical
   recruitment"; the data's own suggestions for inconsistency and imprecision, adopted on purpose).

Run: python examples/summary_of_findings.py [OUT]  (writes OUT, default output/summary_of_findings: *.html, *.md,
*.csv, *.docx)
"""

import sys
from pathlib import Path

import bayesmeta as bm
from bayesmeta.findings.review_file import summary_of_findings_from_file

out = Path(sys.argv[1] if len(sys.argv) > 1 else "output/summary_of_findings")
out.mkdir(parents=True, exist_ok=True)

# 1. A whole review from its review file
sof = summary_of_findings_from_file(Path(__file__).resolve().parents[1] / "models" / "bodily_distress_sof.toml")
print(sof.table[["outcome", "subgroup", "follow_up", "k", "participants", "effect", "lower", "upper", "p_mid",
                 "certainty"]].to_string())
sof.to_html(out / "bodily_distress.html")
sof.to_markdown(out / "bodily_distress.md")
sof.to_csv(out / "bodily_distress.csv")
sof.to_docx(out / "bodily_distress.docx")

# 2. The published pooled results, read the Bayesian way
table = bm.datasets.load("published_pooled_icbt")
rows = table[table["review"].str.contains("Eccleston|CRD42025634381") & table["k"].notna()]
names = {"sleep quality": "Sleep problems"}  # name outcomes as the scale measures them (lower = better sleep)
outcomes = []
for _, r in rows.iterrows():
    benefit = "lower" if r["sign_convention"].startswith("negative") else "higher"
    name, _, when = r["outcome"].partition(", ")
    n = None if r.isna()["n_participants"] else int(r["n_participants"])
    o = bm.Outcome.from_published(names.get(name, name.capitalize()), r["pooled_smd"], r["ci_lo"], r["ci_hi"],
                                  k=int(r["k"]), participants=n, benefit=benefit, i2=r["i2_pct"], mid=0.2,
                                  follow_up=when, subgroup="Eccleston 2014" if "Eccleston" in r["review"] else
                                  "2025 review")
    judged = {s.domain: s.level for s in o.suggestions()}  # the data's suggestions, adopted by us
    reasons = {d: "the data's suggestion, adopted" for d in judged}
    if "Eccleston" in r["review"]:
        judged["indirectness"] = "serious"
        reasons["indirectness"] = "mostly wait-list controls and non-clinical recruitment (the review's abstract)"
    outcomes.append(o.with_judgements(judged, reasons))
published = bm.summary_of_findings(outcomes, intervention="internet-delivered psychological therapy",
                                   comparison="control", population="adults with chronic pain")
print(published.to_markdown())
published.to_html(out / "published_icbt.html")
published.to_docx(out / "published_icbt.docx")
