"""The frequentist twin: metafor's `rma()` (tau^2 estimators, Knapp-Hartung, Q-profile, prediction intervals,
meta-regression), RevMan's presets and subgroup analysis, and small-study checks.

Modules: `rma` (the entry point `frequentist` and subgroups), `tau2` (estimators, Q, I^2), `wls` (weighted least
squares that stays accurate over many orders of magnitude, R's root finder), `result` (FrequentistResult),
`bias` (leave-one-out, Egger's test, funnel-plot data).
"""

from .bias import EggerResult, egger_test, funnel_data, leave_one_out
from .result import FrequentistResult
from .rma import CI_TYPES, PRESETS, SUBGROUP_TAU, as_results, frequentist
from .tau2 import DEFAULT_CONTROL, METHODS, estimate_tau2, i_squared, q_profile_ci, q_statistic, typical_variance
from .wls import EstimationError, WeightedFit, zeroin

__all__ = ["CI_TYPES", "DEFAULT_CONTROL", "METHODS", "PRESETS", "SUBGROUP_TAU", "EggerResult", "EstimationError",
           "FrequentistResult", "WeightedFit", "as_results", "egger_test", "estimate_tau2", "frequentist",
           "funnel_data", "i_squared", "leave_one_out", "q_profile_ci", "q_statistic", "typical_variance", "zeroin"]
