"""The frequentist twin: metafor's `rma()` (tau^2 estimators, Knapp-Hartung, Q-profile, prediction intervals,
meta-regression), RevMan's presets and subgroup analysis, and small-study checks.

Modules: `rma` (the entry point `frequentist` and subgroups), `tau2` (estimators, Q, I^2), `wls` (weighted least
squares that stays accurate over many orders of magnitude, R's root finder), `result` (FrequentistResult),
`bias` (leave-one-out, Egger's test, funnel-plot data), `small_study` (regtest, ranktest, PET, PEESE, PET-PEESE),
`trim_and_fill` (trimfill), `selection` (selmodel), `influence_diagnostics` (influence, cumulative, baujat),
`gosh_subsets` (gosh).
"""

from .bias import EggerResult, egger_test, funnel_data, leave_one_out
from .gosh_subsets import GoshResult, gosh
from .influence_diagnostics import baujat, cumulative, influence
from .result import FrequentistResult
from .rma import CI_TYPES, PRESETS, SUBGROUP_TAU, as_results, frequentist
from .selection import SelmodelResult, selmodel
from .small_study import PetPeeseResult, RanktestResult, RegtestResult, peese, pet, pet_peese, ranktest, regtest
from .tau2 import DEFAULT_CONTROL, METHODS, estimate_tau2, i_squared, q_profile_ci, q_statistic, typical_variance
from .trim_and_fill import TrimfillResult, trimfill
from .wls import EstimationError, WeightedFit, zeroin

__all__ = ["CI_TYPES", "DEFAULT_CONTROL", "METHODS", "PRESETS", "SUBGROUP_TAU", "EggerResult", "EstimationError",
           "FrequentistResult", "GoshResult", "PetPeeseResult", "RanktestResult", "RegtestResult", "SelmodelResult",
           "TrimfillResult", "WeightedFit", "as_results", "baujat", "cumulative", "egger_test", "estimate_tau2",
           "frequentist", "funnel_data", "gosh", "i_squared", "influence", "leave_one_out", "peese", "pet",
           "pet_peese", "q_profile_ci", "q_statistic", "ranktest", "regtest", "selmodel", "trimfill",
           "typical_variance", "zeroin"]
