"""The posterior of a fit, the same for every family and engine: summaries, probabilities, shrinkage,
coefficients, predictions, draws.

`Fit` asks its family what a quantity is (a linear function of the coefficients, a function of tau, or
a shrunken study effect) and its backend how it is distributed: exact normal mixtures over tau for the
exact engine, draws for MCMC (bayesmeta.backends). I^2 is in percent: I^2 = 100 tau^2 / (tau^2 + s^2),
s^2 the typical within-study variance (Higgins-Thompson; with moderators metafor's (k - p) / tr(P)).

Events for `prob` and quantity expressions: 'mu < 0', 'theta_new <= -0.2', 'tau > 0.5', '-0.5 < mu < 0',
'beta[weeks] < 0', 'mu[internet] - mu[face-to-face] < 0', 'theta[Study 3] > 0'.
"""

from __future__ import annotations

import math
import numbers
import re

import numpy as np
import pandas as pd

from . import hooks
from .errors import plain
from .families.base import Linear, Shrunken

_OPS = ("<=", ">=", "<", ">")
_NUMBER = re.compile(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$")
_TERM = re.compile(r"^\s*(?:([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\*\s*)?(.+?)\s*$")


def check_ci(ci) -> float:
    """A credible level strictly between 0 and 1."""
    if isinstance(ci, bool) or not isinstance(ci, numbers.Real) or not 0 < ci < 1:
        raise ValueError(f"ci must be a probability between 0 and 1 (e.g. 0.95 for 95%), not {plain(ci)!r}")
    return float(ci)


def _check_kind(kind):
    if kind not in ("eti", "hdi"):
        raise ValueError(f"kind must be 'eti' (equal-tailed) or 'hdi' (highest density), not {kind!r}")


def _split_top(text: str, seps) -> list[tuple[str, str]]:
    """Split `text` at separators outside brackets: [(separator before the piece, piece), ...]."""
    out, depth, start, sep, i = [], 0, 0, "", 0
    while i < len(text):
        ch = text[i]
        depth += ch in "[(" and 1 or (-1 if ch in "])" else 0)
        hit = next((s for s in seps if depth == 0 and text.startswith(s, i)), None)
        exponent = hit in ("+", "-") and i > 0 and text[i - 1] in "eE" and _NUMBER.match(text[start:i - 1] or "x")
        if hit and not exponent:
            out.append((sep, text[start:i]))
            sep, start = hit, i + len(hit)
            i += len(hit)
            continue
        i += 1
    out.append((sep, text[start:]))
    return out


def _number(text: str, expression: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"cannot read {expression!r}: {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"cannot read {expression!r}: the bound must be a finite number")
    return value


def parse_event(expression: str, hint: str) -> tuple[str, float | None, float | None]:
    """An event as (quantity, lower, upper), an open side None: 'mu < 0' -> ('mu', None, 0.0), 'tau > 0.5' ->
    ('tau', 0.5, None), '-0.5 < mu < 0' -> ('mu', -0.5, 0.0). <= and >= read as < and > (continuous
    quantities). `hint` ends the message for what cannot be read."""
    if not isinstance(expression, str):
        raise ValueError(f"an event is a string such as 'mu < 0', not {expression!r}")
    parts = _split_top(expression, _OPS)
    if len(parts) == 2:
        (_, lhs), (op, rhs) = parts
        if not lhs.strip():
            raise ValueError(f"cannot read {expression!r}: {hint}")
        value = _number(rhs, expression)
        return (lhs, None, value) if op[0] == "<" else (lhs, value, None)
    if len(parts) == 3:
        (_, lo), (op1, mid), (op2, hi) = parts
        if op1[0] != "<" or op2[0] != "<":
            raise ValueError(f"cannot read {expression!r}: a range is written 'a < quantity < b'")
        lo_v, hi_v = _number(lo, expression), _number(hi, expression)
        if not lo_v < hi_v:
            raise ValueError(f"cannot read {expression!r}: the lower bound {lo_v:g} must be below the upper "
                             f"bound {hi_v:g}")
        return mid, lo_v, hi_v
    raise ValueError(f"cannot read {expression!r}: {hint}")


class Fit:
    """A fitted model. Build with `bm.fit(...)`; `bm.load(path)` reads one saved with `save`."""

    def __init__(self, spec, backend, engine: str, seed: int, settings=None):
        self.spec, self.backend, self.engine, self.seed = spec, backend, engine, seed
        self.settings = settings or {}
        self._idata = None
        self._tables = {}  # summary tables already computed, by what they hold

    # ---------------------------------------------------------------- basic accessors
    @property
    def data(self):
        return self.spec.data

    @property
    def family(self):
        return self.spec.family

    @property
    def idata(self):
        """ArviZ DataTree: posterior, prior, posterior/prior predictive, observed and constant data
        (and sample_stats for MCMC); made on first use."""
        if self._idata is None:
            self._idata = self.backend.sample.datatree(self.spec)
        return self._idata

    @property
    def dropped(self) -> tuple:
        """(row, study, column) of the rows left out for a missing moderator (with drop_missing=True)."""
        return tuple(self.family.dropped)

    def quantity(self, expression: str):
        """The quantity an expression names: one name, or a sum/difference of coefficients, mu[g] and
        theta_new (e.g. 'mu[a] - mu[b]', '2 * beta[x]')."""
        if not isinstance(expression, str) or not expression.strip():
            raise ValueError(f"a quantity is a name such as 'mu' or 'beta[weeks]', not {expression!r}")
        pieces = _split_top(expression.strip(), ("+", "-"))
        if len(pieces) > 1 and not pieces[0][1].strip():  # a leading sign
            pieces = pieces[1:]
        terms = [(sign, _TERM.match(piece)) for sign, piece in pieces]
        if len(terms) == 1 and terms[0][1].group(1) is None:
            return self.family.quantity(terms[0][1].group(2))
        total = None
        for sign, m in terms:
            if not m.group(2):
                raise ValueError(f"cannot read {expression!r}: a term is missing around {sign!r}")
            q = self.family.quantity(m.group(2))
            if not isinstance(q, Linear):
                raise ValueError(f"cannot read {expression!r}: only coefficients, mu and theta_new can be added or "
                                 f"subtracted, not {m.group(2).strip()!r}")
            c = (float(m.group(1)) if m.group(1) else 1.0) * (-1 if sign == "-" else 1)
            total = q.scaled(c) if total is None else total + q.scaled(c)
        return total

    def draws(self, quantity: str) -> np.ndarray:
        """All posterior draws of a quantity, flattened over chains ('theta[label]' for one study)."""
        return self.backend.draws(self.quantity(quantity))

    # ---------------------------------------------------------------- distributions of quantities
    def cdf(self, quantity: str, x: float) -> float:
        """P(quantity <= x | y)."""
        return float(self.backend.cdf(self.quantity(quantity), float(x)))

    def ppf(self, quantity: str, q) -> np.ndarray:
        """Posterior quantiles of a quantity at probabilities q."""
        q = np.atleast_1d(np.asarray(q, float))
        if np.any((q < 0) | (q > 1)) or np.any(np.isnan(q)):
            raise ValueError(f"probabilities for quantiles must lie in [0, 1], got {q.tolist()}")
        return self.backend.ppf(self.quantity(quantity), q)

    def moments(self, quantity: str) -> tuple[float, float]:
        """Posterior mean and SD."""
        return self.backend.moments(self.quantity(quantity))

    def density(self, quantity: str, x) -> np.ndarray:
        """Posterior density at x: exact for the exact engine, a kernel density estimate for MCMC."""
        return self.backend.pdf(self.quantity(quantity), x)

    def interval(self, quantity: str, ci: float = 0.95, kind: str = "eti") -> tuple[float, float]:
        """Equal-tailed (eti) or highest-density (hdi) interval with probability ci."""
        ci = check_ci(ci)
        _check_kind(kind)
        if kind == "hdi":
            return self.backend.hdi(self.quantity(quantity), ci)
        lo, hi = self.ppf(quantity, [(1 - ci) / 2, (1 + ci) / 2])
        return float(lo), float(hi)

    # ---------------------------------------------------------------- the public summaries
    def _table(self, names, ci, kind, index_name="quantity", quantities=None) -> pd.DataFrame:
        """mean, sd, median, lower, upper of the quantities `names` (or the given quantity objects)."""
        ci = check_ci(ci)
        _check_kind(kind)
        key = (tuple(names), ci, kind, index_name)
        if key in self._tables:
            return self._tables[key].copy()
        qs = quantities or [self.quantity(name) for name in names]
        probs = [(1 - ci) / 2, (1 + ci) / 2, 0.5]
        values = self.backend.summaries(qs, probs)
        if kind == "hdi":
            values[:, [2, 3]] = [self.backend.hdi(q, ci) for q in qs]
        columns = ["mean", "sd", "lower", "upper", "median"]
        out = pd.DataFrame(values, columns=columns, index=pd.Index(list(names), name=index_name))
        out = out[["mean", "sd", "median", "lower", "upper"]]
        out.attrs["interval"] = (f"{ci:.0%} {'equal-tailed' if kind == 'eti' else 'highest-density'} "
                                 "credible interval")
        self._tables[key] = out
        return out.copy()

    def summary(self, ci: float = 0.95, kind: str = "eti") -> pd.DataFrame:
        """The family's quantities (normal-normal: mu, tau, tau2, I2, theta_new); columns mean, sd, median,
        lower, upper (a `ci` interval)."""
        return self._table(self.family.summary_rows(), ci, kind)

    def coefficients(self, ci: float = 0.95, kind: str = "eti") -> pd.DataFrame:
        """The coefficients in model order (intercept first), indexed by term; columns as `summary`."""
        table = self._table(self.family.coefficient_rows(), ci, kind, index_name="term")
        table.index = pd.Index(list(self.family.terms), name="term")
        return table

    def differences(self, ci: float = 0.95) -> pd.DataFrame:
        """Every pairwise difference of subgroup means (later minus earlier subgroup), with the posterior
        probability that it lies on the benefit side of 0 (column 'P(> 0)', or 'P(< 0)' where lower is
        better): the probability that the later subgroup's effect is the more favourable."""
        from .effects import benefit_operator

        names = self.family.contrasts()
        if not names:
            raise ValueError(f"the {self.family.name} model has no subgroups to compare")
        table = self._table(names, ci, "eti", index_name="difference")
        op = benefit_operator(self.data.benefit)
        table[f"P({op} 0)"] = [self.prob(f"{n} {op} 0") for n in names]
        return table

    def predict(self, newdata, ci: float = 0.95) -> pd.DataFrame:
        """Mean effect and the effect of a new study at given moderator values (meta-regression): one row per
        row of `newdata` (a dict of values or lists, or a DataFrame), columns mean, sd, lower, upper of the
        mean effect and pred_lower, pred_upper of the new study's effect."""
        ci = check_ci(ci)
        if not hasattr(self.family, "predictions"):
            raise ValueError(f"predict() needs moderators; the {self.family.name} model has none")
        probs = [(1 - ci) / 2, 0.5, (1 + ci) / 2]
        rows = []
        for mean_q, new_q in self.family.predictions(newdata):
            if not np.all(np.abs(mean_q.a) < 1e150):
                raise ValueError(f"predict(): the moderator values {dict(newdata)!r} are too large to predict at")
            m, s = self.backend.moments(mean_q)
            lo, med, hi = self.backend.ppf(mean_q, probs)
            p_lo, _, p_hi = self.backend.ppf(new_q, probs)
            row = dict(mean=m, sd=s, median=med, lower=lo, upper=hi, pred_lower=p_lo, pred_upper=p_hi)
            if not all(np.isfinite(list(row.values()))):
                raise ValueError(f"predict(): the moderator values {dict(newdata)!r} give no finite prediction "
                                 "(values far outside the data?)")
            rows.append(row)
        from .design import moderator_frame

        out = pd.concat([moderator_frame(newdata), pd.DataFrame(rows)], axis=1)
        out.attrs["interval"] = f"{ci:.0%} equal-tailed credible and predictive intervals"
        return out

    def shrinkage(self, ci: float = 0.95, kind: str = "eti") -> pd.DataFrame:
        """Per study: observed y and se, and the posterior mean, sd, median and interval of its effect theta_i."""
        data = self.data
        table = self._table(list(data.study), ci, kind, index_name="study",
                            quantities=[Shrunken(i) for i in range(data.k)])
        table.insert(0, "se", data.se)
        table.insert(0, "y", data.y)
        return table

    def prob(self, expression: str) -> float:
        """Posterior probability of 'mu < 0', 'theta_new <= -0.2', 'tau > 0.5', '-0.5 < mu < 0',
        'beta[weeks] < 0', 'mu[a] - mu[b] > 0' ..."""
        hint = ("write e.g. 'mu < 0', 'theta_new <= -0.2', 'tau > 0.5', '-0.5 < mu < 0' or 'beta[x] < 0' "
                f"(quantities: {', '.join(self.family.summary_rows()[:8])}, theta[study])")
        text, lower, upper = parse_event(expression, hint)
        q = self.quantity(text)
        below = self.backend.cdf(q, upper) if upper is not None else 1.0
        p = below - (self.backend.cdf(q, lower) if lower is not None else 0.0)
        return float(min(max(p, 0.0), 1.0))

    def bayes_factors(self) -> pd.DataFrame:
        """Exact Bayes factors: BF01 and BF10 for tau = 0 (common effect) and for mu = 0 (or a coefficient
        = 0) where its prior is normal.

        tau = 0: BF01 = L(tau = 0) / integral p(tau) L(tau) dtau (needs a proper tau prior).
        mu = 0: Savage-Dickey, BF01 = p(mu = 0 | y) / p(mu = 0) (the coefficients' priors are independent).
        Computed by the exact engine also for MCMC fits (the model is the same).
        """
        from .engines import get_engine

        try:
            exact, _ = get_engine("exact")().run(self.spec, self.seed)
        except ValueError as err:
            raise ValueError(f"Bayes factors need the exact engine's evidence, which the {self.family.name} model "
                             f"does not have ({err})") from None
        fam, rows = self.family, {}
        if fam.random and self.spec.tau_prior.proper and len(fam.blocks) == 1:
            rows["tau = 0"] = math.exp(exact.factors[0].log_likelihood_tau0() - exact.log_evidence)
        for name, prior in zip(fam.coefficient_rows(), fam.coef_priors):  # Savage-Dickey, independent priors
            if prior.kind == "normal":
                rows[f"{name} = 0"] = float(exact.pdf(fam.quantity(name), 0.0)) / math.exp(prior.logpdf(0.0))
        if not rows:
            raise ValueError("Bayes factors need proper priors: a proper tau prior (for tau = 0) or a normal prior "
                             "on mu or a coefficient (for it = 0)")
        out = pd.DataFrame({"BF01": rows}).rename_axis("null hypothesis")
        out["BF10"] = 1 / out["BF01"]
        return out

    def diagnostics(self) -> pd.DataFrame:
        """MCMC: R-hat, bulk and tail ESS, MCSE and divergences (ArviZ); exact: the quadrature's nodes and
        evidence."""
        return self.backend.diagnostics(lambda: self.idata)  # the DataTree only where the engine needs it (MCMC)

    def describe_engine(self) -> str:
        """How the numbers were computed, in one sentence."""
        return self.backend.describe()

    # ---------------------------------------------------------------- reporting and saving
    def report(self, format: str = "text", **kwargs) -> str:  # noqa: A002
        """Plain-language report: an alias of `bayesmeta.reports.render_report(fit, format, ...)`, reached through
        the hook the package registers (`bayesmeta.hooks`), so that the posterior never imports the output layer."""
        return hooks.call("report", self, format=format, **kwargs)

    def save(self, path) -> None:
        """Write the fit (data, model, priors, engine, seed, settings and the posterior draws) to a netCDF
        file that `bm.load` reads back into the same fit: an alias of `bayesmeta.persist.save_fit`, reached
        through the hook the package registers (`bayesmeta.hooks`)."""
        hooks.call("save", self, path)

    def __repr__(self):
        s = self.summary()
        lines = [f"Bayesian {self.family.name} model ({self.engine} engine), k = {self.data.k}; "
                 f"{s.attrs['interval']}s", f"  priors: tau ~ {self.spec.tau_prior}, mu ~ {self.spec.mu_prior}"]
        lines += [f"  left out: row {r} ({s_!r}), {c!r} missing" for r, s_, c in self.dropped]
        width = max(len(q) for q in s.index)
        for q, r in s.iterrows():
            lines.append(f"  {q:{width}s} mean {r['mean']:8.4f}  sd {r['sd']:7.4f}  [{r['lower']:.4f}, {r['upper']:.4f}]")
        return "\n".join(lines)

    # ---------------------------------------------------------------- robustness and model checking
    # Aliases of free functions of bayesmeta.robustness and bayesmeta.model_checking, reached through the hooks
    # the package registers (those modules refit, so they sit above the posterior layer).
    def leave_one_out(self, ci: float = 0.95):
        """Exact refits without each study; see bayesmeta.robustness.leave_one_out."""
        return hooks.call("leave_one_out", self, ci=ci)

    def cumulative(self, order=None, bf_mu_prior=None, ci: float = 0.95):
        """Sequential Bayesian meta-analysis; see bayesmeta.robustness.cumulative."""
        return hooks.call("cumulative", self, order=order, bf_mu_prior=bf_mu_prior, ci=ci)

    def sensitivity(self, tau_priors=None, mu_priors=None, ci: float = 0.95):
        """Refits over a grid of priors; see bayesmeta.robustness.sensitivity."""
        return hooks.call("sensitivity", self, tau_priors=tau_priors, mu_priors=mu_priors, ci=ci)

    def gosh(self, max_subsets: int = 1_000_000, seed: int | None = None):
        """Bayesian GOSH over subsets of the studies; see bayesmeta.robustness.gosh."""
        return hooks.call("gosh", self, max_subsets=max_subsets, seed=seed)

    def power_scaling(self, threshold: float = 0.05):
        """Prior and likelihood power-scaling sensitivity; see bayesmeta.model_checking.power_scaling."""
        return hooks.call("power_scaling", self, threshold=threshold)

    def loo(self):
        """PSIS-LOO (and exact LOO where the batch kernel serves the model); see bayesmeta.model_checking.loo."""
        return hooks.call("loo", self)

    def outliers(self, ci: float = 0.95):
        """Per study P(outlier) and LOO-PIT; see bayesmeta.model_checking.outliers."""
        return hooks.call("outliers", self, ci=ci)
