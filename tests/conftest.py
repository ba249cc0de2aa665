from pathlib import Path

import pandas as pd
import pytest

import bayesmeta as bm

DATA = Path(__file__).parent / "data"

# Reference data set name -> bundled data set, read as the references were made (yi/vi where present).
REFERENCE_DATASETS = {"normand1999": "normand1999", "raudenbush1985": "raudenbush1985",
                      "eightschools": "eightschools", "thirdwave": "thirdwave", "fibromyalgia": "fibromyalgia_pain"}


def reference_data(name: str) -> bm.EffectData:
    bundled = REFERENCE_DATASETS[name]
    df = bm.datasets.load(bundled)
    if {"yi", "vi"} <= set(df.columns):
        return bm.EffectData.from_dataframe(df, y="yi", vi="vi", study="study")
    return bm.datasets.effect_data(bundled)


@pytest.fixture(scope="session")
def metafor_reference() -> pd.DataFrame:
    return pd.read_csv(DATA / "metafor_reference.csv")


@pytest.fixture(scope="session")
def bayesmeta_reference() -> pd.DataFrame:
    return pd.read_csv(DATA / "bayesmeta_reference.csv")


@pytest.fixture(scope="session")
def clbp() -> bm.EffectData:
    """The bundled digital self-management data for chronic low back pain (12 RCTs, benefit lower)."""
    return bm.datasets.effect_data("clbp_digital_pain")


@pytest.fixture(scope="session")
def clbp_fit(clbp):
    """The exact normal-normal fit of `clbp` with a half-normal(0.5) prior on tau."""
    return bm.fit(clbp, tau_prior="halfnormal(0.5)", seed=3)
