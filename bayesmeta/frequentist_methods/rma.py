"""The frequentist twin: inverse-variance random-effects meta-analysis and meta-regression as metafor's `rma()`
does it, and subgroup analysis as RevMan 5 and R meta do it.

With y_i effects, v_i sampling variances, X the design (a column of ones without moderators) and tau^2 from one
of the estimators in `tau2.py`: w_i = 1/(v_i + tau^2), b = (X'WX)^-1 X'W y with covariance (X'WX)^-1.

Knapp-Hartung (ci="hksj"; metafor `test="knha"`): the covariance is scaled by Q_E(tau^2)/(k-p) (not truncated at
1), with t_{k-p} quantiles, and QM becomes an F(m, k-p) statistic. QM (Wald test of the moderators) tests every
coefficient except the intercept (all of them when the model has no intercept column). QE is the test for
residual heterogeneity, Q_E(0) with k-p df. R^2 (percent of tau^2 explained) = max(0, 100 (tau^2_RE - tau^2) /
tau^2_RE), tau^2_RE from the intercept-only model by the same method; for FE models metafor's adjusted R^2 of
the weighted regression, 100 (1 - (QE/(k-p)) / (Q/(k-1))), floored at 0; only for models whose column space
holds the intercept.

Prediction interval (no moderators): mu_hat +/- c sqrt(se^2 + tau^2) with c the normal quantile, or t_{k-1}
under Knapp-Hartung (metafor `predict()`), or t_{k-2} with `prediction="hts"` (Higgins, Thompson, Spiegelhalter
2009). Q-profile CI for tau^2: Q_E(tau^2) = chi^2_{k-p} quantiles.

Subgroups (RevMan 5, R meta): `subgroup_tau="separate"` fits each subgroup alone (own tau^2); "common" fits the
mixed-effects model `~ 0 + C(group)` with one tau^2 (R meta's tau.common = TRUE). Test for subgroup
differences: Q_between = sum w_g (mu_g - mu_bar)^2, w_g = 1/se_g^2, mu_bar = sum w_g mu_g / sum w_g, chi^2 with
G - 1 df (under z and common tau^2 this is the QM of `~ C(group)`).

Extreme data: the computation runs on y/c and se/c with c a power of two in the middle of the data's range
(exact in floating point; the results scale back exactly), so SEs of 1e-150 or 1e150 work; controls are in
the units of tau^2 and scale with c^2 (see `_scaled_control` for the caps that keep them meaningful). Data whose
standard errors and effects span more than 100 orders of magnitude are refused with a DataError.
"""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
from scipy import stats

from ..design import INTERCEPT, design_matrix, subgroup_labels
from ..effects import EffectData
from ..errors import PACKAGE_DIR, DataError, EstimationWarning, plain
from .mantel_haenszel import BINARY_METHODS, pool_counts
from .result import FrequentistResult, warn_one_study_subgroup
from .tau2 import DEFAULT_CONTROL, METHODS, estimate_tau2, q_profile_ci, q_statistic, typical_variance
from .wls import EstimationError, WeightedFit

CI_TYPES = ("z", "hksj")
SUBGROUP_TAU = ("separate", "common")
MAX_RANGE = 1e100  # largest ratio of the data's scale (largest SE or effect spread) to the smallest SE

# Named presets: what RevMan 5 does, and what RevMan Web offers for Cochrane reviews now.
PRESETS = {
    "revman5": dict(method="DL", ci="z", prediction=None, measure="SMD_RevMan",
                    describe="RevMan 5: DerSimonian-Laird random effects, Wald (z) CI, no prediction interval; "
                             "SMD by RevMan's approximate Hedges' correction"),
    "cochrane": dict(method="REML", ci="hksj", prediction="t",
                     describe="Cochrane / RevMan Web: REML, Hartung-Knapp-Sidik-Jonkman CI, "
                              "prediction interval with t(k-1)"),
}


# --------------------------------------------------------------------------- the main entry point
def frequentist(data: EffectData, method: str = "REML", ci: str = "z", level: float = 0.95,
                prediction: str | None = "default", control: dict | None = None, moderators: str | None = None,
                subgroup: str | None = None, subgroup_tau: str = "separate",
                drop_missing: bool = False, model: str = "random", robust: bool = False) -> FrequentistResult:
    """Random-effects (or common-effect, method="FE") meta-analysis of `data`, as metafor's `rma()`.

    method: FE DL REML ML PM SJ HS HE EB, or a preset "revman5" / "cochrane" (see PRESETS); for 2x2 counts
    (EffectData.from_counts) also "MH", "MH-DL" (random effects, Q around MH) and "Peto", as RevMan pools them.
    ci: "z" (Wald) or "hksj" (Knapp-Hartung with t_{k-p}). prediction: "default" (normal under z, t_{k-1}
    under hksj, as metafor `predict()`), "z", "t", "hts" (t_{k-2}) or None.
    moderators: a formula such as "~ weeks + C(setting)" for a meta-regression (see `bayesmeta.design`);
    drop_missing leaves out studies with a missing moderator (listed in `dropped`) instead of refusing them.
    subgroup: a moderator column for a subgroup analysis, with `subgroup_tau` "separate" or "common".
    control: threshold, tol, maxiter, tau2_max of the iterative estimators (metafor's defaults).
    model="three-level": metafor's rma.mv(yi, vi, random = ~ 1 | cluster/effect) by REML or ML, with
    robust=True its cluster-robust inference (see `multilevel.three_level`).
    """
    if model in ("three-level", "t"):
        given = [name for name, value in (("moderators", moderators), ("subgroup", subgroup), ("ci", ci != "z"),
                                          ("prediction", prediction != "default"), ("control", control))
                 if value]
        if given:
            raise ValueError(f"the {model} model takes none of {', '.join(given)} (it is fitted with Wald z "
                             "intervals, or cluster-robust t with robust=True)")
    if model == "three-level":
        from .multilevel import three_level

        return three_level(data, method, robust=robust, level=level)
    if model == "t":  # Student-t random effects by ML (metaplus)
        from .t_effects import t_effects

        return t_effects(data, level=level)
    if model != "random" or robust:
        raise ValueError(f"model must be 'random', 'three-level' or 't' (robust=True with the three-level model), "
                         f"not model={model!r}, robust={robust!r}")
    if method in BINARY_METHODS:  # 2x2 counts pooled as RevMan does: MH, MH-DL, Peto (mantel_haenszel.py)
        return pool_counts(data, method, level, subgroup)
    preset = None
    if method in PRESETS:
        preset, spec = method, PRESETS[method]
        method, ci, prediction = spec["method"], spec["ci"], spec["prediction"]
    _check_options(method, ci, level, subgroup_tau)
    if subgroup is not None:
        if moderators is not None:
            raise ValueError("give either moderators (a meta-regression) or subgroup, not both")
        return _subgroup_analysis(data, subgroup, subgroup_tau, preset, dict(
            method=method, ci=ci, level=level, prediction=prediction, control=control))
    design = None
    if moderators is not None:
        design = design_matrix(data, moderators, drop_missing)
        data = data.take(design.rows)
    if design is None or design.terms == (INTERCEPT,):
        return _plain_result(data, method, ci, level, prediction, control, preset, moderators)
    return _regression_result(data, design, method, ci, level, control, preset)


def _check_options(method, ci, level, subgroup_tau):
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)} or a preset "
                         f"({', '.join(PRESETS)})")
    if ci not in CI_TYPES:
        raise ValueError(f"ci must be 'z' or 'hksj', not {ci!r}")
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ValueError(f"level must be a probability between 0 and 1 (e.g. 0.95), not {plain(level)!r}")
    if subgroup_tau not in SUBGROUP_TAU:
        raise ValueError(f"subgroup_tau must be 'separate' or 'common', not {subgroup_tau!r}")


def _inputs(data: EffectData):
    """y and se as float arrays, every value finite and every SE positive (EffectData built directly skips
    its own checks)."""
    y, se = np.asarray(data.y, dtype=float), np.asarray(data.se, dtype=float)
    bad_y, bad_se = ~np.isfinite(y), ~(np.isfinite(se) & (se > 0))
    if bad_y.any() or bad_se.any():
        i = int(np.flatnonzero(bad_y | bad_se)[0])
        where = f"row {i + 1} ({data.study[i]!r})"
        if bad_y[i]:
            raise DataError(f"{where}, column 'y': the effect {float(y[i])!r} is not a finite number")
        raise DataError(f"{where}, column 'se': the standard error {float(se[i])!r} must be a positive finite number")
    return y, se


def _scale_factor(y, se, labels) -> float:
    """A power of two c in the middle of the data's range: the computation runs on y/c and se/c."""
    lo = float(se.min())
    spread = float(np.max(np.abs(y - np.median(y))))
    hi = max(float(se.max()), spread)
    if not hi / lo <= MAX_RANGE:
        i_lo = int(np.argmin(se))
        if se.max() / lo > MAX_RANGE:
            i_hi = int(np.argmax(se))
            raise DataError(f"row {i_hi + 1} ({labels[i_hi]!r}), column 'se': the standard error {se[i_hi]:.3g} is "
                            f"more than 1e100 times the smallest (row {i_lo + 1}, {lo:.3g}); such data cannot be "
                            "analysed in double precision: check the units")
        raise DataError(f"column 'y': the effects spread over {spread:.3g} while the smallest standard error is "
                        f"{lo:.3g} (row {i_lo + 1}), more than 1e100 times apart; check the units")
    return 2.0 ** round(0.5 * (math.log2(lo) + math.log2(hi)))


def _scaled_control(control, c):
    """The controls in the units of the scaled data (tau^2 / c^2). metafor's defaults are absolute (tau^2 units);
    for data in very small units they would stop before the first step, so in scaled units the convergence
    threshold is at most 1e-3, the root-finding tolerance at most 1e-2 and the first bracket of the root search
    within [1, 1e4] (never binding for effects on the usual scales: c >= 0.1, so results stay metafor's)."""
    if control is not None and not isinstance(control, dict):
        raise ValueError(f"control must be a dict of {', '.join(DEFAULT_CONTROL)}, not {control!r}")
    unknown = sorted(set(control or {}) - set(DEFAULT_CONTROL))
    if unknown:
        raise ValueError(f"control: unknown setting(s) {', '.join(map(repr, unknown))}; the settings are "
                         f"{', '.join(DEFAULT_CONTROL)}")
    out = {**DEFAULT_CONTROL, **(control or {})}
    out["threshold"] = min(out["threshold"] / c**2, 1e-3)
    out["tol"] = min(out["tol"] / c**2, 1e-2)
    out["tau2_max"] = min(max(out["tau2_max"] / c**2, 1.0), 1e4)
    return out


def _centre(y, se, X):
    """The precision-weighted mean m of y when the design spans the constant (an intercept, or a full set of
    subgroup dummies), and the coefficients' shift g m with X g = 1: the fit runs on y - m, so y + 1e8 loses
    no digits, and adding g m back gives the coefficients of y. (0, 0) when the constant is not in the span."""
    gamma, *_ = np.linalg.lstsq(X, np.ones(len(y)), rcond=None)
    if np.linalg.norm(X @ gamma - 1) > 1e-8 * math.sqrt(len(y)):
        return 0.0, np.zeros(X.shape[1])
    gamma = np.where(np.abs(gamma) < 1e-12, 0.0, gamma)
    m = float(np.sum(y / se**2) / np.sum(1 / se**2))
    return m, gamma * m


# --------------------------------------------------------------------------- the model fit
def _fit(y, se, X, labels, method, ci, level, control, intercept=True, r2=False) -> SimpleNamespace:
    """Everything `rma()` reports for effects y with SEs se on design X, in the units of y. `intercept`: the
    first column of X is the intercept (QM then leaves it out)."""
    c = _scale_factor(y, se, labels)
    centre, shift = _centre(y, se, X)
    ys, vs, ctrl = (y - centre) / c, (se / c) ** 2, _scaled_control(control, c)
    k, p = X.shape
    tau2, notes = estimate_tau2(ys, vs, method, ctrl, X)
    fit = WeightedFit(X, 1 / (vs + tau2), ys)
    vb = fit.vcov
    df = k - p
    if ci == "hksj":
        if df < 1:
            raise DataError(f"Knapp-Hartung needs at least {p + 1} studies (it has k - p = {df} degrees of freedom)")
        if fit.rss <= 100 * fit.rss_rounding:
            raise EstimationError("Knapp-Hartung: the effects fit the model exactly (Q_E(tau^2) = 0 up to rounding), "
                                  "so its standard errors are 0; use ci='z'")
        vb = vb * fit.rss / df
        crit, sf = stats.t.ppf(0.5 + level / 2, df), (lambda x: stats.t.sf(x, df))
    else:
        crit, sf = stats.norm.ppf(0.5 + level / 2), stats.norm.sf
    se_b = np.sqrt(np.diag(vb))
    b = fit.b * c + shift
    stat = b / (se_b * c)
    out = SimpleNamespace(k=k, p=p, tau2=tau2 * c**2, notes=notes, b=b, vb=vb * c**2, se=se_b * c,
                          stat=stat, pvalue=2 * sf(np.abs(stat)), lower=b - crit * se_b * c,
                          upper=b + crit * se_b * c, weights=100 * fit.ws / np.sum(fit.ws))
    btt = np.arange(1, p) if p > 1 and intercept else np.arange(p)  # the intercept is column 0
    qm = fit.wald(len(btt)) if not np.any(shift[btt]) else float(
        b[btt] @ np.linalg.solve(fit.vcov[np.ix_(btt, btt)] * c**2, b[btt]))
    if ci == "hksj":
        if not fit.rss / df > 0:
            raise EstimationError("Knapp-Hartung: the effects fit the model exactly (no residual variation to "
                                  "scale by); use ci='z'")
        qm /= fit.rss / df
        out.QM, out.QM_df = qm / len(btt), (len(btt), df)
        out.QM_pvalue = float(stats.f.sf(out.QM, len(btt), df))
    else:
        out.QM, out.QM_df, out.QM_pvalue = qm, len(btt), float(stats.chi2.sf(qm, len(btt)))
    out.QE = out.QE_pvalue = out.I2 = out.H2 = out.I2_lower = out.I2_upper = out.H2_lower = out.H2_upper = np.nan
    out.tau2_lower = out.tau2_upper = np.nan
    out.R2 = None
    if df >= 1:
        fe = WeightedFit(X, 1 / vs, ys)
        out.QE = max(0.0, fe.rss)
        out.QE_pvalue = float(stats.chi2.sf(out.QE, df))
        if method == "FE":
            out.I2 = max(0.0, 100 * (out.QE - df) / out.QE) if out.QE > 0 else 0.0
            out.H2 = out.QE / df
        else:
            if not fe.tr_p > 0:
                raise EstimationError("I^2: the residual projection has no trace (each study fits its own "
                                      "coefficient)")
            s2 = df / fe.tr_p
            lo, hi = q_profile_ci(ys, vs, tau2, level, ctrl, X)
            bounds = np.array([tau2, lo, hi])
            out.I2, out.I2_lower, out.I2_upper = (float(x) for x in 100 * bounds / (bounds + s2))
            out.H2, out.H2_lower, out.H2_upper = (float(x) for x in bounds / s2 + 1)
            out.tau2_lower, out.tau2_upper = lo * c**2, hi * c**2
        if r2:
            out.R2 = _r_squared(ys, vs, method, ctrl, tau2, out.QE, df)
    return out


def _r_squared(y, v, method, control, tau2, qe, df):
    """Percent of tau^2 explained by the moderators (metafor's R^2; see the module docstring)."""
    k = len(y)
    if method == "FE":
        q0 = q_statistic(0.0, y, v)
        return 0.0 if q0 == 0 else max(0.0, 100 * (1 - (qe / df) / (q0 / (k - 1))))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EstimationWarning)
            tau2_re, _ = estimate_tau2(y, v, method, control)
    except EstimationError:
        return None
    return 0.0 if tau2_re == 0 else max(0.0, 100 * (tau2_re - tau2) / tau2_re)


def _coefficient_table(fit, terms) -> pd.DataFrame:
    return pd.DataFrame(dict(estimate=fit.b, se=fit.se, statistic=fit.stat, pvalue=fit.pvalue, lower=fit.lower,
                             upper=fit.upper), index=pd.Index(list(terms), name="term"))


# --------------------------------------------------------------------------- results
def _plain_result(data, method, ci, level, prediction, control, preset, moderators=None) -> FrequentistResult:
    y, se = _inputs(data)
    k = len(y)
    if k == 1 and ci == "hksj":
        raise DataError("Knapp-Hartung needs at least 2 studies (it has k - 1 = 0 degrees of freedom)")
    fit = _fit(y, se, np.ones((k, 1)), data.study, method, ci, level, control)
    if k == 1 and fit.notes:
        warnings.warn(fit.notes[0], EstimationWarning, skip_file_prefixes=PACKAGE_DIR)
    mu, se_mu = float(fit.b[0]), float(fit.se[0])
    pred = _prediction_kind(prediction, ci, method)
    pi_lo = pi_hi = float("nan")
    if pred:
        df = {"z": None, "t": k - 1, "hts": k - 2}[pred]
        if df is not None and df < 1:
            raise DataError(f"a {pred} prediction interval needs more studies (k = {k})")
        crit = stats.norm.ppf(0.5 + level / 2) if df is None else stats.t.ppf(0.5 + level / 2, df)
        half = crit * math.sqrt(se_mu**2 + fit.tau2)
        pi_lo, pi_hi = mu - half, mu + half
    return FrequentistResult(
        k=k, method=method, ci=ci, mu=mu, se=se_mu, lower=float(fit.lower[0]), upper=float(fit.upper[0]),
        pvalue=float(fit.pvalue[0]), tau2=fit.tau2, tau2_lower=float(fit.tau2_lower),
        tau2_upper=float(fit.tau2_upper), I2=fit.I2, I2_lower=fit.I2_lower, I2_upper=fit.I2_upper, H2=fit.H2,
        H2_lower=fit.H2_lower, H2_upper=fit.H2_upper, Q=float(fit.QE), Q_pvalue=float(fit.QE_pvalue),
        pi_lower=float(pi_lo), pi_upper=float(pi_hi), prediction=pred, level=level,
        weights=pd.Series(fit.weights, index=pd.Index(data.study, name="study"), name="weight_pct"),
        measure=data.measure, preset=preset, notes=fit.notes,
        coefficients=_coefficient_table(fit, (INTERCEPT,)),
        vcov=pd.DataFrame(fit.vb, index=[INTERCEPT], columns=[INTERCEPT]), QM=fit.QM, QM_df=fit.QM_df,
        QM_pvalue=fit.QM_pvalue, QE=float(fit.QE), QE_df=k - 1 if k > 1 else None, QE_pvalue=float(fit.QE_pvalue))


def _regression_result(data, design, method, ci, level, control, preset) -> FrequentistResult:
    y, se = _inputs(data)
    fit = _fit(y, se, design.X, data.study, method, ci, level, control, intercept=design.terms[0] == INTERCEPT,
               r2=design.has_intercept)
    nan = float("nan")
    notes = list(fit.notes) + [f"row {r} ({s!r}) left out: moderator {c!r} is missing" for r, s, c in design.dropped]
    return FrequentistResult(
        k=fit.k, method=method, ci=ci, mu=nan, se=nan, lower=nan, upper=nan, pvalue=nan, tau2=fit.tau2,
        tau2_lower=float(fit.tau2_lower), tau2_upper=float(fit.tau2_upper), I2=fit.I2, I2_lower=fit.I2_lower,
        I2_upper=fit.I2_upper, H2=fit.H2, H2_lower=fit.H2_lower, H2_upper=fit.H2_upper, Q=float(fit.QE),
        Q_pvalue=float(fit.QE_pvalue), pi_lower=nan, pi_upper=nan, prediction=None, level=level,
        weights=pd.Series(fit.weights, index=pd.Index(data.study, name="study"), name="weight_pct"),
        measure=data.measure, preset=preset, notes=notes, coefficients=_coefficient_table(fit, design.terms),
        vcov=pd.DataFrame(fit.vb, index=list(design.terms), columns=list(design.terms)),
        moderators=design.formula, QM=fit.QM, QM_df=fit.QM_df, QM_pvalue=fit.QM_pvalue, QE=float(fit.QE),
        QE_df=fit.k - fit.p, QE_pvalue=float(fit.QE_pvalue), R2=fit.R2, dropped=design.dropped, design=design)


def _prediction_kind(prediction, ci, method):
    if prediction is None or method == "FE":
        return None
    if prediction == "default":
        return "t" if ci == "hksj" else "z"
    if prediction not in ("z", "t", "hts"):
        raise ValueError(f"prediction must be 'default', 'z', 't', 'hts' or None, not {prediction!r}")
    return prediction


# --------------------------------------------------------------------------- subgroups
def _subgroup_analysis(data, column, tau, preset, options) -> FrequentistResult:
    labels, groups = subgroup_labels(data, column)
    if len(groups) < 2:
        raise DataError(f"subgroup {column!r}: every study is in {groups[0]!r}; a subgroup analysis needs two or "
                        "more groups")
    sizes = {g: int(np.sum(labels == g)) for g in groups}
    for g in groups:
        if sizes[g] == 1:
            warn_one_study_subgroup(g, column)
    overall = _plain_result(data, preset=preset, **options)
    if tau == "separate":
        rows = [_separate_subgroup(data.subset(labels == g), options) for g in groups]
    else:
        rows = _common_subgroups(data, labels, groups, options)
    table = pd.DataFrame(rows, index=pd.Index(groups, name=column))
    w = 1 / table["se"].to_numpy() ** 2
    mu = table["mu"].to_numpy()
    q_between = float(np.sum(w * (mu - np.sum(w * mu) / np.sum(w)) ** 2))
    overall.subgroup, overall.subgroup_tau, overall.subgroups = column, tau, table
    overall.Q_between, overall.Q_between_df = q_between, len(groups) - 1
    overall.Q_between_pvalue = float(stats.chi2.sf(q_between, len(groups) - 1))
    return overall


def _row(k, mu, se, lower, upper, pvalue, tau2, I2, Q, Q_pvalue) -> dict:
    return dict(k=k, mu=mu, se=se, lower=lower, upper=upper, tau2=tau2, I2=I2, Q=Q, Q_pvalue=Q_pvalue,
                pvalue=pvalue)


def _separate_subgroup(part, options) -> dict:
    if part.k == 1:
        opts = {**options, "ci": "z", "prediction": None}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EstimationWarning)
            res = _plain_result(part, preset=None, **opts)
        return _row(1, res.mu, res.se, res.lower, res.upper, res.pvalue, 0.0, np.nan, 0.0, np.nan)
    res = _plain_result(part, preset=None, **{**options, "prediction": None})
    return _row(res.k, res.mu, res.se, res.lower, res.upper, res.pvalue, res.tau2, res.I2, res.Q, res.Q_pvalue)


def _common_subgroups(data, labels, groups, options) -> list[dict]:
    """The mixed-effects model ~ 0 + C(group): one tau^2, the subgroup means as coefficients."""
    y, se = _inputs(data)
    X = (labels[:, None] == np.asarray(groups, dtype=object)[None, :]).astype(float)
    if data.k <= len(groups):
        raise DataError(f"a common tau^2 across {len(groups)} subgroups needs more than {len(groups)} studies "
                        f"(k = {data.k})")
    fit = _fit(y, se, X, data.study, options["method"], options["ci"], options["level"], options["control"],
               intercept=False)
    rows = []
    for j, g in enumerate(groups):
        part = labels == g
        yg, seg = y[part], se[part]
        if part.sum() > 1:
            c = _scale_factor(yg, seg, data.study[part])
            q = q_statistic(0.0, yg / c, (seg / c) ** 2)
            s2 = typical_variance((seg / c) ** 2) * c**2
            i2, q_p = 100 * fit.tau2 / (fit.tau2 + s2), float(stats.chi2.sf(q, part.sum() - 1))
        else:
            q, q_p, i2 = 0.0, np.nan, np.nan
        rows.append(_row(int(part.sum()), fit.b[j], fit.se[j], fit.lower[j], fit.upper[j], fit.pvalue[j], fit.tau2,
                         i2, q, q_p))
    return rows


def as_results(freq) -> list:
    """None, one frequentist result or several, as a list; anything else is a ValueError naming it."""
    if freq is None:
        return []
    out = list(freq) if isinstance(freq, (list, tuple)) else [freq]
    for i, r in enumerate(out):
        if not all(hasattr(r, name) for name in ("mu", "lower", "upper", "label", "level")):
            where = f"item {i + 1} of the list" if isinstance(freq, (list, tuple)) else "the argument"
            raise ValueError(f"compare(): {where} is {r!r} ({type(r).__name__}), not a frequentist result; pass "
                             "bm.frequentist(data, ...) or a list of them")
    return out
