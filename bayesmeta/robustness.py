"""Is the answer robust? Exact Bayesian refits of many variants of one fit: leave-one-out, cumulative
(sequential) meta-analysis, a grid of priors, and a Bayesian GOSH over subsets of the studies.

Every variant is the same model refitted to other studies or under other priors, not an approximation.
Where the family has the batch kernel (the normal-normal random-effects model: `family.batchable()`), all
variants go through `bayesmeta.engines.batch` in a few NumPy passes (the exact engine's quadrature over tau
with a batch axis); the variants whose vectorised quadrature fails its accuracy check, and every variant of
other families, are refitted one by one with `bm.fit` (the fit's own engine and settings).

Functions take the `Fit` as an argument (duck-typed: `.data`, `.family`, `.spec`, `.engine`, `.seed`,
`.settings`, `.backend`); `Fit.leave_one_out()` etc. are aliases.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from scipy import special

from . import priors as _priors
from .effects import STANDARDISED, benefit_operator
from .engines.batch import Bucket, k_bucket
from .errors import DataError
from .numerics import mixture_cdf, mixture_moments, mixture_pdf, mixture_ppf

CI = 0.95
_SUMMARY = ("mu_mean", "mu_median", "mu_lower", "mu_upper", "tau_median", "tau_lower", "tau_upper",
            "theta_new_median", "theta_new_lower", "theta_new_upper", "p_benefit", "p_new_benefit", "log_evidence")
_SETTINGS = ("draws", "chains", "tune", "target_accept")


# --------------------------------------------------------------------------- what a variant is
def pooled_names(fit) -> tuple[str, str]:
    """The mean and new-study quantities of the family's one pooled effect ('mu', 'theta_new')."""
    pooled = fit.family.pooled()
    if len(pooled) != 1:
        raise ValueError(f"robustness analyses summarise one pooled effect; the {fit.family.name} model has "
                         f"{len(pooled) or 'no'} pooled effects. Supported: the normal-normal (random or common "
                         "effect), Student-t and three-level models")
    return pooled[0][1], pooled[0][2]


def benefit_side(data) -> tuple[str, str]:
    """The comparison meaning benefit ('<' or '>') and a note for the table's attrs."""
    if data.benefit is None:
        return "<", "no benefit direction declared: p_benefit is P(effect < 0)"
    op = benefit_operator(data.benefit)
    return op, f"benefit is a {data.benefit} effect: p_benefit is P(effect {op} 0)"


def _tail(cdf0, op):
    return cdf0 if op == "<" else 1 - cdf0


# --------------------------------------------------------------------------- the vectorised path
def batch_nodes(y, v, subsets, tau_priors, mu_prior):
    """p(tau | y) of many normal-normal analyses: studies `subsets[g]` (index arrays into y, v) under tau prior
    `tau_priors[g]`, all with `mu_prior` (flat or normal). Yields (variant numbers, Nodes); `failed` (a list
    filled in place at the end) holds the variants the vectorised quadrature could not do."""
    m0, p0 = (mu_prior.m, 1 / mu_prior.s**2) if mu_prior.kind == "normal" else (0.0, 0.0)
    sizes = np.array([len(s) for s in subsets])
    padded = np.array([k_bucket(int(k)) for k in sizes])
    failed = []
    out = []
    for K in np.unique(padded):
        members = np.flatnonzero(padded == K)
        pos = np.zeros((len(members), K), int)
        inside = np.arange(K)[None, :] < sizes[members][:, None]
        for r, g in enumerate(members):
            pos[r, :sizes[g]] = subsets[g]
        yb, vb = np.where(inside, y[pos], 0.0), np.where(inside, v[pos], 1.0)
        bucket = Bucket(yb, vb, sizes[members], [tau_priors[g] for g in members], m0, p0)
        results, bad = bucket.quadrature()
        out += [(members[nodes.rows], nodes) for nodes in results]
        failed += list(members[bad])
    return out, failed


def _node_summary(nodes, op, ci=CI, held=None):
    """The _SUMMARY columns (R, 13) of analyses held as batch Nodes; with `held` = (y, v) of a left-out study
    per row also its exact log predictive density and PIT, y | rest ~ mixture of N(b, c + tau^2 + v)."""
    probs = np.array([0.5, (1 - ci) / 2, (1 + ci) / 2])
    R = len(nodes.rows)
    w, b = nodes.weight, nodes.b
    cols = []
    for sds in (np.sqrt(nodes.c), np.sqrt(nodes.c + nodes.tau**2)):
        qs = mixture_ppf(np.tile(probs, R), np.repeat(w, 3, axis=0), np.repeat(b, 3, axis=0),
                         np.repeat(sds, 3, axis=0)).reshape(R, 3)
        cols.append((qs, _tail(mixture_cdf(np.zeros(R), w, b, sds), op)))
    mean = mixture_moments(w, b, np.sqrt(nodes.c))[0]
    tau = nodes.tau_ppf(probs)
    (mu_q, p_mu), (new_q, p_new) = cols
    out = np.column_stack([mean, mu_q, tau, new_q, p_mu, p_new, nodes.log_evidence])
    if held is None:
        return out
    y, v = held
    sds = np.sqrt(nodes.c + nodes.tau**2 + v[:, None])
    lpd = np.log(mixture_pdf(y, w, b, sds))
    return np.column_stack([out, lpd, mixture_cdf(y, w, b, sds)])


def _fit_summary(f, op, ci=CI, held=None):
    """The _SUMMARY columns of one Fit (any family with a pooled effect, any engine); with `held` = (y, v) of a
    left-out study also its log predictive density and PIT, averaged over the draws of a new study's effect
    (Rao-Blackwellised: Monte Carlo over theta_new, exact given it)."""
    mean_q, new_q = pooled_names(f)
    table = f.summary(ci=ci)  # one vectorised pass, cached by the fit
    cols = ["median", "lower", "upper"]
    tau = table.loc["tau", cols] if "tau" in table.index else np.zeros(3)
    out = [table.loc[mean_q, "mean"], *table.loc[mean_q, cols], *tau, *table.loc[new_q, cols],
           f.prob(f"{mean_q} {op} 0"), f.prob(f"{new_q} {op} 0"), getattr(f.backend, "log_evidence", np.nan)]
    if held is not None:
        z = (held[0] - f.draws(new_q)) / math.sqrt(held[1])
        out += [math.log(np.mean(np.exp(-0.5 * z**2)) / math.sqrt(2 * math.pi * held[1])), np.mean(special.ndtr(z))]
    return np.array(out)


def refit(fit, data, tau_prior=None, mu_prior=None):
    """The fit's model refitted to `data` (an EffectData) with its engine, seed and settings, and optionally
    other priors."""
    from .fitting import fit as fit_model

    settings = {k: v for k, v in fit.settings.items() if k in _SETTINGS}
    return fit_model(data, tau_prior=fit.spec.tau_prior if tau_prior is None else tau_prior,
                     mu_prior=fit.spec.mu_prior if mu_prior is None else mu_prior, engine=fit.engine,
                     seed=fit.seed, tau_within_prior=fit.spec.tau_within_prior, **fit.family.arguments(),
                     **settings)


def variants(fit, subsets, tau_priors=None, mu_prior=None, ci=CI, held_out=None):
    """The _SUMMARY columns (G, 13) of the fit's model refitted to each subset of studies (index arrays), under
    `tau_priors[g]` (default: the fit's) and `mu_prior` (default: the fit's). Batched where the family allows.
    With `held_out` (a study position per subset) two more columns: the log predictive density and the PIT of
    that study's effect given the subset."""
    op = benefit_side(fit.data)[0]
    G = len(subsets)
    tau_priors = [fit.spec.tau_prior] * G if tau_priors is None else list(tau_priors)
    mu_prior = fit.spec.mu_prior if mu_prior is None else _priors.mu_prior(mu_prior)
    for sub, prior in zip(subsets, tau_priors):
        if len(sub) < 2 and fit.family.random and not prior.proper:
            raise ValueError(f"the improper tau prior {prior} needs at least 2 studies in every refit")
    y, v = fit.data.y, fit.data.vi
    held = (lambda rows: None) if held_out is None else (lambda rows: (y[held_out[rows]], v[held_out[rows]]))
    out = np.full((G, len(_SUMMARY) + (0 if held_out is None else 2)), np.nan)
    todo = range(G)
    if fit.family.batchable() and mu_prior.kind != "student_t":
        bound = {id(p): p.bind(fit.data) for p in tau_priors}  # each prior once (objects are shared)
        results, todo = batch_nodes(y, v, subsets, [bound[id(p)] for p in tau_priors], mu_prior)
        for rows, nodes in results:
            out[rows] = _node_summary(nodes, op, ci, held(rows))
        todo = sorted(set(todo) | set(np.flatnonzero(np.isnan(np.delete(out, len(_SUMMARY) - 1, 1)).any(axis=1))))
    for g in todo:
        f = refit(fit, fit.data.take(subsets[g]), tau_priors[g], mu_prior)
        out[g] = _fit_summary(f, op, ci, None if held_out is None else (y[held_out[g]], v[held_out[g]]))
    return out


def _frame(values, index, columns=_SUMMARY) -> pd.DataFrame:
    """The table of variants; without log_evidence where no refit has one (engines without the evidence)."""
    table = pd.DataFrame(values, index=index, columns=list(columns))
    return table.drop(columns="log_evidence") if table["log_evidence"].isna().all() else table


# --------------------------------------------------------------------------- leave-one-out
def leave_one_out(fit, ci: float = CI) -> pd.DataFrame:
    """Exact refits without each study: indexed by the omitted study; mu_median, mu_lower, mu_upper (a `ci`
    equal-tailed interval), tau_median, p_benefit, theta_new_lower/upper (the predictive interval of the
    others), loo_lpd = log p(y_i | y_-i) and loo_pit = P(y_i^rep <= y_i | y_-i) (exact for the batch kernel's
    model, else averaged over the refit's draws), and the change from the full fit (mu_change, tau_change,
    p_benefit_change); attrs['full'] holds the full fit's row."""
    k = fit.data.k
    if k < 2:
        raise DataError("leave-one-out needs at least 2 studies")
    subsets = [np.delete(np.arange(k), i) for i in range(k)]
    table = _frame(variants(fit, subsets, ci=ci, held_out=np.arange(k)),
                   pd.Index([str(s) for s in fit.data.study], name="omitted"), (*_SUMMARY, "loo_lpd", "loo_pit"))
    full = _frame(_fit_summary(fit, benefit_side(fit.data)[0], ci)[None, :], ["(none)"]).iloc[0]
    table["mu_change"] = table["mu_median"] - full["mu_median"]
    table["tau_change"] = table["tau_median"] - full["tau_median"]
    table["p_benefit_change"] = table["p_benefit"] - full["p_benefit"]
    table.attrs.update(full=full.to_dict(), benefit=benefit_side(fit.data)[1],
                       interval=f"{ci:.0%} equal-tailed credible interval")
    return table


# --------------------------------------------------------------------------- cumulative
def _order(data, order) -> np.ndarray:
    """Positions of the studies in the order of accumulation: data order (None), by a moderator column
    (ascending, stable), or a list of study labels or 0-based positions naming every study once."""
    k = data.k
    if order is None:
        return np.arange(k)
    if isinstance(order, str):
        if order not in data.moderators.columns:
            raise DataError(f"order: no column {order!r} in the data; columns are {list(data.moderators.columns)}")
        values = data.moderators[order].to_numpy()
        if pd.isna(values).any():
            raise DataError(f"order: column {order!r} has missing values (row {int(np.flatnonzero(pd.isna(values))[0])})")
        return np.argsort(values, kind="stable")
    labels = [str(s) for s in data.study]
    items = list(order)
    pos = [labels.index(str(x)) if str(x) in labels else x for x in items]
    if sorted(p for p in pos if isinstance(p, (int, np.integer))) != list(range(k)) or len(pos) != k:
        raise DataError(f"order must name each of the {k} studies once (labels or positions 0..{k - 1}), "
                        f"got {items!r}")
    return np.asarray(pos, int)


def _bf_prior(fit, bf_mu_prior):
    """The normal prior on mu under which BF10 (mu != 0 against mu = 0) is computed."""
    if bf_mu_prior is None:
        if fit.spec.mu_prior.kind == "normal":
            return fit.spec.mu_prior
        bf_mu_prior = "normal(0, 1)"
    prior = _priors.mu_prior(bf_mu_prior, "bf_mu_prior")
    if prior.kind != "normal":
        raise ValueError(f"bf_mu_prior must be a normal prior on mu (a Bayes factor needs a proper prior), "
                         f"not {bf_mu_prior!r}")
    return prior


def cumulative(fit, order=None, bf_mu_prior=None, ci: float = CI) -> pd.DataFrame:
    """Sequential Bayesian meta-analysis: step j pools the first j studies in `order` (see `_order`; from step 2
    under an improper tau prior, said in attrs['note']). One row per step: study (the one added), k, mu_median, mu_lower, mu_upper, tau_median, p_benefit and BF10 for
    mu != 0 against mu = 0 (Savage-Dickey, BF01 = p(mu = 0 | y) / p(mu = 0), which equals the ratio of the
    exact marginal likelihoods; under the fit's mu prior if it is normal, else `bf_mu_prior`, default
    normal(0, 1); named in attrs['bf_prior'])."""
    pos = _order(fit.data, order)
    first = 1 if fit.spec.tau_prior.proper or not fit.family.random else 2  # an improper prior needs 2 studies
    subsets = [pos[: j + 1] for j in range(first - 1, len(pos))]
    table = _frame(variants(fit, subsets, ci=ci), pd.RangeIndex(first, len(pos) + 1, name="step"))
    prior = _bf_prior(fit, bf_mu_prior)
    table["BF10"] = 1 / _savage_dickey(fit, subsets, prior)
    table.insert(0, "k", np.arange(first, len(pos) + 1))
    table.insert(0, "study", [str(fit.data.study[i]) for i in pos[first - 1:]])
    table.attrs.update(bf_prior=str(prior), benefit=benefit_side(fit.data)[1],
                       interval=f"{ci:.0%} equal-tailed credible interval")
    if first == 2:
        table.attrs["note"] = (f"the improper tau prior {fit.spec.tau_prior} gives no posterior for one study: the "
                               f"first step pools the first two ({fit.data.study[pos[0]]} and {fit.data.study[pos[1]]})")
    return table


def _savage_dickey(fit, subsets, prior) -> np.ndarray:
    """BF01 for mu = 0 of the model refitted to each subset with the normal prior `prior` on mu."""
    mean_q = pooled_names(fit)[0]
    density0 = math.exp(prior.logpdf(0.0))
    out = np.full(len(subsets), np.nan)
    todo = range(len(subsets))
    if fit.family.batchable():
        results, todo = batch_nodes(fit.data.y, fit.data.vi, subsets, [fit.spec.tau_prior] * len(subsets), prior)
        for rows, nodes in results:
            out[rows] = mixture_pdf(np.zeros(len(rows)), nodes.weight, nodes.b, np.sqrt(nodes.c)) / density0
    for g in todo:
        f = refit(fit, fit.data.take(subsets[g]), mu_prior=prior)
        out[g] = f.bayes_factors().loc[f"{mean_q} = 0", "BF01"]
    return out


# --------------------------------------------------------------------------- prior sensitivity
def default_tau_priors(data) -> list:
    """Half-normal(0.25), (0.5), (1), half-Cauchy(0.5), the empirical prior for the measure (Rhodes et al. 2015
    for SMDs, Turner et al. 2015 for log odds and risk ratios) and uniform(0, 2), on the SMD scale; for other
    measures the scales are multiplied by half the unit-information SD (about 1 for SMDs)."""
    measure = getattr(data, "measure", "SMD")
    if measure in STANDARDISED or measure in ("logOR", "logRR"):
        scale = 1.0
    else:
        uisd = _priors.unit_information_sd(data)
        if uisd is None:
            raise DataError(f"no default prior grid for {measure} effects without group sizes: give tau_priors")
        scale = float(f"{uisd / 2:.3g}")
    grid = [f"halfnormal({0.25 * scale:g})", f"halfnormal({0.5 * scale:g})", f"halfnormal({scale:g})",
            f"halfcauchy({0.5 * scale:g})"]
    if measure in STANDARDISED:
        grid.append("rhodes")
    elif measure in ("logOR", "logRR"):
        grid.append("turner")
    return [*grid, f"uniform(0, {2 * scale:g})"]


def _prior_list(priors, name) -> list:
    """A list of priors: one prior string (or object) is a list of one; a dict, a number or an empty list is
    refused (a string used to be read letter by letter: "tau prior 'h'")."""
    if isinstance(priors, (str, _priors.TauPrior, _priors.MuPrior)):
        return [priors]
    if isinstance(priors, (dict, int, float)) or not hasattr(priors, "__iter__"):
        raise ValueError(f"{name} must be a list of priors such as ['halfnormal(0.5)', 'halfcauchy(1)'], "
                         f"not {priors!r}")
    out = list(priors)
    if not out:
        raise ValueError(f"{name} is empty: give at least one prior, or None for the defaults")
    return out


def sensitivity(fit, tau_priors=None, mu_priors=None, ci: float = CI) -> pd.DataFrame:
    """Refits under every pair of a tau prior and a mu prior (strings or prior objects; defaults
    `default_tau_priors` plus the fit's own, and the fit's mu prior). One row per pair: tau_prior, mu_prior (the
    code of each), own (the fit's priors), tau_label and mu_label (each named for a reader), then the _SUMMARY
    columns (mu, tau, theta_new medians and `ci` intervals,
    p_benefit = P(mu on the benefit side of 0), p_new_benefit for a new study, log_evidence)."""
    taus = default_tau_priors(fit.data) if tau_priors is None else _prior_list(tau_priors, "tau_priors")
    mus = [fit.spec.mu_prior] if mu_priors is None else _prior_list(mu_priors, "mu_priors")
    tau_objs = [_priors.tau_prior(t) for t in taus]
    if tau_priors is None and str(fit.spec.tau_prior) not in [str(t) for t in tau_objs]:
        tau_objs.insert(0, fit.spec.tau_prior)
    mu_objs = [_priors.mu_prior(m) for m in mus]
    blocks, labels, names = [], [], []
    for mu in mu_objs:
        blocks.append(variants(fit, [np.arange(fit.data.k)] * len(tau_objs), tau_objs, mu, ci))
        labels += [(str(t), str(mu)) for t in tau_objs]
        names += [(t.label(), mu.label()) for t in tau_objs]
    table = _frame(np.concatenate(blocks), pd.RangeIndex(len(labels)))
    table.insert(0, "mu_prior", [m for _, m in labels])
    table.insert(0, "tau_prior", [t for t, _ in labels])
    table.insert(2, "own", [(t, m) == (str(fit.spec.tau_prior), str(fit.spec.mu_prior)) for t, m in labels])
    table.insert(3, "tau_label", [t for t, _ in names])  # for a reader: 'Empirical prior of Rhodes et al. 2015 ...'
    table.insert(4, "mu_label", [m for _, m in names])
    table.attrs.update(benefit=benefit_side(fit.data)[1], interval=f"{ci:.0%} equal-tailed credible interval")
    return table


# --------------------------------------------------------------------------- GOSH
def gosh_subsets(k: int, max_subsets: int, seed: int) -> np.ndarray:
    """Boolean (n, k): every non-empty subset of k studies when there are at most max_subsets of them, else
    max_subsets distinct random ones (seeded)."""
    total = 2**k - 1
    if total <= max_subsets:
        codes = np.arange(1, total + 1, dtype=np.int64)
    else:
        rng = np.random.default_rng(seed)
        codes = np.unique(rng.integers(1, 2**min(k, 62), size=int(max_subsets * 1.1), dtype=np.int64))
        codes = rng.permutation(codes)[:max_subsets]
        if k > 62:
            raise DataError(f"GOSH samples subsets of at most 62 studies (the data have {k})")
    return ((codes[:, None] >> np.arange(k)[None, :]) & 1).astype(bool)


def _medians(fit, subsets):
    """Posterior medians of mu and tau (n, 2) of the normal-normal model on each subset (batch kernel)."""
    y, v, prior = fit.data.y, fit.data.vi, fit.spec.tau_prior
    out = np.full((len(subsets), 2), np.nan)
    results, failed = batch_nodes(y, v, subsets, [prior] * len(subsets), fit.spec.mu_prior)
    for rows, nodes in results:
        R = len(rows)
        out[rows, 0] = mixture_ppf(np.full(R, 0.5), nodes.weight, nodes.b, np.sqrt(nodes.c))
        out[rows, 1] = nodes.tau_ppf(np.array([0.5]))[:, 0]
    for g in failed:
        f = refit(fit, fit.data.take(subsets[g]))
        out[g] = [f.ppf("mu", 0.5)[0], f.ppf("tau", 0.5)[0]]
    return out


def gosh(fit, max_subsets: int = 1_000_000, seed: int | None = None, threads: int | None = None) -> pd.DataFrame:
    """Bayesian GOSH (Olkin et al. 2012's graphical display of study heterogeneity, with exact posteriors): the
    posterior medians of mu and tau of the fit's model on every non-empty subset of the studies (or
    `max_subsets` random ones). One row per subset: k, mu_median, tau_median, and one boolean column per study
    (included or not). Normal-normal random-effects model only (the batch kernel)."""
    if not fit.family.batchable():
        raise ValueError(f"the Bayesian GOSH refits up to 2^k subsets with the batch kernel, which serves the "
                         f"normal-normal random-effects model only, not the {fit.family.name} model")
    from .frequentist_methods.gosh_subsets import subset_count

    subset_count(fit.data.k, max_subsets, seed, minimum=1)
    incl = gosh_subsets(fit.data.k, int(max_subsets), fit.seed if seed is None else seed)
    subsets = [np.flatnonzero(row) for row in incl]
    n = threads or min(2, os.cpu_count() or 1)
    chunks = np.array_split(np.arange(len(subsets)), n)
    with ThreadPoolExecutor(n) as pool:
        parts = list(pool.map(lambda c: _medians(fit, [subsets[i] for i in c]), chunks))
    med = np.concatenate(parts)
    table = pd.DataFrame({"k": incl.sum(1), "mu_median": med[:, 0], "tau_median": med[:, 1]})
    return pd.concat([table, pd.DataFrame(incl, columns=[str(s) for s in fit.data.study])], axis=1)


__all__ = ["cumulative", "default_tau_priors", "gosh", "leave_one_out", "sensitivity", "variants"]
