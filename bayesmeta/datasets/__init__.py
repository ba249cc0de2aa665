"""Real published data sets that ship with bayesmeta (provenance in each entry and in docs/datasets.md).

>>> import bayesmeta as bm
>>> bm.datasets.list()                 # name, k, description
>>> df = bm.datasets.load("thirdwave") # DataFrame; df.attrs holds source, sign convention, columns
>>> data = bm.datasets.effect_data("thirdwave")
"""

from __future__ import annotations

import builtins
from importlib import resources

import pandas as pd

# name -> file, description, source, benefit direction, and the EffectData columns.
REGISTRY = {
    "clbp_digital_pain": dict(
        file="clbp_digital_pain.csv",
        description="Digital self-management interventions for chronic low back pain: pain intensity after treatment",
        source="Scholz, Plessen et al. 2024; repository cyplessen/meta_chronic_pain, data/tidy/jitai_data.csv",
        sign="g > 0 favours the intervention (g = control minus intervention pain); the per-arm means are pain "
             "scores, so intervention minus control < 0 favours the intervention",
        benefit="lower", columns=dict(n1="n_t", mean1="mean_t", sd1="sd_t", n2="n_c", mean2="mean_c", sd2="sd_c"),
        outcome="pain intensity"),
    "internet_depression_selfguided": dict(
        file="internet_depression_selfguided.csv",
        description="Self-guided internet interventions for depression against control, post-test "
                    "(several comparisons or instruments per study)",
        source="Metapsy database 'depression-selfguided-psyctr', metapsy-project, DOI 10.5281/zenodo.12705748",
        sign="g > 0 favours the intervention; arm 1 = intervention, depression scores (lower is better)",
        benefit="higher", columns=dict(y="g", se="se_g"), outcome="depressive symptoms (g > 0: fewer symptoms)"),
    "thirdwave": dict(
        file="thirdwave.csv",
        description="Third-wave CBT for perceived stress in college students",
        source="dmetar (Harrer, Cuijpers, Furukawa, Ebert: Doing Meta-Analysis with R), data/ThirdWave.rda",
        sign="TE (Hedges' g) > 0 favours the intervention", benefit="higher",
        columns=dict(y="TE", se="seTE", study="Author"), outcome="perceived stress (g > 0: less stress)"),
    "fibromyalgia_pain": dict(
        file="fibromyalgia_pain.csv",
        description="Antidepressants against placebo for pain in fibromyalgia (Haeuser et al. 2009)",
        source="R package pimeta, data (as used by Riley, Higgins, Deeks 2011 BMJ 342:d549)",
        sign="y (SMD) < 0 favours the antidepressant", benefit="lower",
        columns=dict(y="y", se="sigmak", study="study"), outcome="pain"),
    "normand1999": dict(
        file="normand1999.csv",
        description="Specialist against routine stroke care, length of hospital stay (Normand 1999)",
        source="R package metadat, dat.normand1999; yi, vi from metafor escalc(measure='SMD')",
        sign="yi < 0: shorter stay under specialist care", benefit="lower",
        columns=dict(n1="n1", mean1="m1", sd1="sd1", n2="n2", mean2="m2", sd2="sd2", study="study"),
        outcome="length of stay"),
    "raudenbush1985": dict(
        file="raudenbush1985.csv",
        description="Teacher expectancy and pupil IQ (Raudenbush 1984, 1985)",
        source="R package metadat, dat.raudenbush1985", sign="yi > 0: higher IQ with raised expectancy",
        benefit="higher", columns=dict(y="yi", vi="vi", study="study"), outcome="pupil IQ"),
    "eightschools": dict(
        file="eightschools.csv",
        description="Coaching effects on SAT scores in eight schools (Rubin 1981; Gelman et al., BDA)",
        source="textbook values (integer version)", sign="yi > 0: higher score after coaching (SAT points)",
        benefit="higher", columns=dict(y="yi", vi="vi", study="study"), measure="MD", outcome="SAT score"),
    "bodily_distress_psyctr": dict(
        file="bodily_distress_psyctr.csv", read=dict(sep=";", decimal=","),
        description="CBT and acceptance/mindfulness-based therapies against control for adults with bodily distress "
                    "(fibromyalgia, irritable bowel, chronic fatigue, ...): 449 effects from 72 studies (outcome "
                    "domains, instruments, time points and arms per study)",
        source="Metapsy database 'data-bodily-distress-psyctr' (metapsy-project; DOI 10.5281/zenodo.17405019; last "
               "search 2025-01-08), Open Data Commons Attribution License 1.0",
        sign=".g < 0 favours the psychological treatment (arm 1) for symptom outcomes; for physical health status "
             "(outcome_domain 'phs') higher is better: select one domain per analysis",
        benefit="lower", columns=dict(y=".g", se=".g_se", cluster="study"),
        outcome="symptoms (g < 0: fewer symptoms)"),
    "published_pooled_icbt": dict(
        file="published_pooled_icbt.csv",
        description="Pooled results published by reviews of internet-delivered psychological therapy for "
                    "chronic pain, and of the ThirdWave analysis (estimate with 95% CI)",
        source="Eccleston et al. 2014 Cochrane CD010152; 2025 iCBT pain and sleep review (PROSPERO "
               "CRD42025634381); Gandy et al. 2022 Pain 163:e1041; Harrer et al. 2021",
        sign="per row, column sign_convention", benefit=None, columns={}, outcome="pooled effect"),
}


def list() -> pd.DataFrame:  # noqa: A001 - the public name asked for
    """The bundled data sets: name, number of rows, description and source."""
    rows = [dict(name=name, rows=len(load(name)), description=meta["description"], source=meta["source"])
            for name, meta in REGISTRY.items()]
    return pd.DataFrame(rows)


def load(name: str) -> pd.DataFrame:
    """The data set `name` as a DataFrame; `df.attrs` holds description, source, sign, benefit, columns."""
    if name not in REGISTRY:
        raise KeyError(f"no bundled data set {name!r}; available: {builtins.list(REGISTRY)}")
    meta = REGISTRY[name]
    with resources.files(__name__).joinpath(meta["file"]).open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh, **meta.get("read", {}))
    df.attrs.update(name=name, **{k: v for k, v in meta.items() if k not in ("file", "read")})
    return df


def effect_data(name: str, **overrides):
    """`EffectData` for a bundled data set, with its recorded columns and benefit direction."""
    from ..effects import EffectData

    df = load(name)
    meta = REGISTRY[name]
    if not meta["columns"]:
        raise KeyError(f"{name!r} holds pooled results, not per-study data; use bm.from_estimate on its rows")
    opts = dict(meta["columns"], benefit=meta["benefit"], measure=meta.get("measure", "SMD"), outcome=meta["outcome"])
    opts.update(overrides)
    if name == "clbp_digital_pain" and "y" not in opts:
        # One study (Zheng 2022a) reports only g and its SE: use the arms where present, g elsewhere.
        return _clbp_mixed(df, opts)
    return EffectData.from_table(df, **opts)


def _clbp_mixed(df, opts):
    """CLBP data: Hedges' g from the arm summaries, and for the one study that reports only g and its SE
    (Zheng 2022a) the published g, turned to intervention minus control; input order kept."""
    import numpy as np

    from ..effects import EffectData

    has_arms = df[["n_t", "mean_t", "sd_t", "n_c", "mean_c", "sd_c"]].notna().all(axis=1).to_numpy()
    from_arms = EffectData.from_table(df[has_arms].reset_index(drop=True), **opts)
    g_only = df[~has_arms].reset_index(drop=True)
    from_g = EffectData.from_dataframe(g_only.assign(smd=-g_only["g"]), y="smd", se="se_g", study="study",
                                       benefit=opts["benefit"], outcome=opts["outcome"])
    order = np.argsort(np.concatenate([np.flatnonzero(has_arms), np.flatnonzero(~has_arms)]), kind="stable")
    return EffectData.concat([from_arms, from_g], order=order)
