"""bayesmeta: Bayesian meta-analysis of standardised mean differences.

Light on import: PyMC, PyTensor, ArviZ and matplotlib load only when a fit, figure or report needs them.
"""

from importlib import import_module

from . import datasets, hooks
from .effects import EffectData
from .errors import ConvergenceWarning, DataError, DataWarning, EstimationWarning

__version__ = "0.1.0"

# Public name -> module that defines it, imported on first use.
_LAZY = {
    "frequentist": "frequentist_methods",
    "FrequentistResult": "frequentist_methods",
    "leave_one_out": "frequentist_methods",
    "egger_test": "frequentist_methods",
    "regtest": "frequentist_methods", "ranktest": "frequentist_methods", "pet": "frequentist_methods",
    "peese": "frequentist_methods", "pet_peese": "frequentist_methods", "trimfill": "frequentist_methods",
    "selmodel": "frequentist_methods", "influence": "frequentist_methods", "cumulative": "frequentist_methods",
    "baujat": "frequentist_methods", "gosh": "frequentist_methods",
    "fit": "fitting",
    "Model": "model",
    "load": "persist",
    "read_table": "tables",
    "read_revman": "reviews.revman",
    "compare": "comparison",
    "reference_priors": "comparison",
    "from_estimate": "comparison",
    "priors": None,
    "fit_many": "many", "frequentist_many": "many",
    "compare_models": "model_checking",
    "Outcome": "findings", "summary_of_findings": "findings", "SummaryOfFindings": "findings",
    "average": "averaging",
}



def _render_report(fit, format="text", **kwargs):  # noqa: A002
    from .reports import render_report

    return render_report(fit, format=format, **kwargs)


def _save_fit(fit, path):
    from .persist import save_fit

    save_fit(fit, path)


def _lazy(module, name):
    """A hook that imports bayesmeta.<module> on first call and calls its function `name`."""
    def call(*args, **kwargs):
        return getattr(import_module(f".{module}", __name__), name)(*args, **kwargs)
    return call


hooks.register("report", _render_report)  # Fit.report and Fit.save: the facade wires the output layer in
hooks.register("save", _save_fit)
for _name in ("leave_one_out", "cumulative", "sensitivity", "gosh"):  # Fit's robustness and model-checking aliases
    hooks.register(_name, _lazy("robustness", _name))
for _name in ("power_scaling", "loo", "outliers"):
    hooks.register(_name, _lazy("model_checking", _name))

__all__ = ["EffectData", "DataError", "DataWarning", "ConvergenceWarning", "EstimationWarning", "datasets",
           *_LAZY]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'bayesmeta' has no attribute {name!r}")
    module = import_module(f".{_LAZY[name] or name}", __name__)
    value = module if _LAZY[name] is None else getattr(module, name)
    globals()[name] = value
    return value
