"""What every model family shares: blocks of studies, the quantities a family declares, and the generic
linear random-effects family that the normal-normal model, meta-regression and subgroup models are.

A family with blocks b = 1..B: y_b ~ N(X_b beta_b, diag(v_b) + tau_b^2 I), theta_i = x_i' beta + u_i,
u_i ~ N(0, tau^2). One block with one tau for the normal-normal model, meta-regression and subgroups with a
common tau; one block per subgroup when each has its own tau. A quantity is one of

    Linear(a, new)      a' beta + sum_j c_j e_j, e_j ~ N(0, tau_{b_j}^2) new-study deviations
    Heterogeneity(b, t) tau_b, tau_b^2 or I^2_b = 100 tau_b^2 / (tau_b^2 + s_b^2) (monotone in tau_b)
    Shrunken(i)         theta_i given y (the shrunken study effect)

and every backend (quadrature or draws) knows how to answer cdf/ppf/moments/draws for each kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np



@dataclass(frozen=True)
class Block:
    """Studies at positions `rows` of the data, with their design X and the prior of their coefficients
    beta[coef] (mean and precision per coefficient; precision 0 = flat). common: tau fixed at 0."""

    rows: np.ndarray
    y: np.ndarray
    v: np.ndarray
    X: np.ndarray
    coef: slice
    prior_mean: np.ndarray
    prior_precision: np.ndarray
    common: bool = False


@dataclass(frozen=True)
class Linear:
    """a' beta plus new-study deviations: `new` holds (block, slot, multiplier); terms with the same slot
    are the same new study, different slots are independent new studies."""

    a: np.ndarray
    new: tuple = ()

    def __add__(self, other):
        return Linear(self.a + other.a, self.new + other.new)

    def scaled(self, c):
        return Linear(c * self.a, tuple((b, s, c * m) for b, s, m in self.new))

    def new_terms(self) -> dict:
        """{(block, slot): summed multiplier} of the new-study deviations."""
        out = {}
        for b, s, m in self.new:
            out[(b, s)] = out.get((b, s), 0.0) + m
        return {key: m for key, m in out.items() if m != 0}


@dataclass(frozen=True)
class Heterogeneity:
    block: int
    transform: str  # "tau", "tau2" or "I2"
    s2: float = 1.0  # typical within-study variance of the block (for I2)

    def from_tau(self, tau):
        tau = np.asarray(tau, float)
        return {"tau": tau, "tau2": tau**2, "I2": 100 * tau**2 / (tau**2 + self.s2)}[self.transform]

    @property
    def support(self) -> tuple[float, float]:
        """The ends of the quantity's range: 0 and infinity (100 for I2)."""
        return 0.0, 100.0 if self.transform == "I2" else np.inf

    def to_tau(self, x: float) -> float:
        """The tau at which the quantity equals x (nan below its range, inf above)."""
        if self.transform == "tau":
            return x if x >= 0 else np.nan
        if self.transform == "tau2":
            return np.sqrt(x) if x >= 0 else np.nan
        if x < 0:
            return np.nan
        return np.sqrt(self.s2 * x / (100 - x)) if x < 100 else np.inf


@dataclass(frozen=True)
class Shrunken:
    study: int


@dataclass(frozen=True)
class HyperFunction:
    """A function of several heterogeneity parameters, fn(tau (N, H)) -> (N,) (e.g. the I^2 of one level of
    a multilevel model); exact moments, quantiles to the resolution of the quadrature nodes. `support`: the
    ends of its range (the quantiles at 0 and 1)."""

    name: str
    fn: object = None
    support: tuple = (-np.inf, np.inf)

    def __hash__(self):
        return hash(self.name)


def typical_variance(v, X=None) -> float:
    """s^2 = (k - p) / tr(P), P = W - W X (X'WX)^-1 X'W, W = diag(1/v) (metafor; for X = 1 the
    Higgins-Thompson (k - 1) sum w / ((sum w)^2 - sum w^2)). tr(P) = sum_i w_i (1 - h_ii) with the
    leverage from the other studies alone, 1 - h_ii = 1 / (1 + w_i x_i' A_(-i)^-1 x_i), A_(-i) = sum over
    j != i of w_j x_j x_j' (prefix plus suffix sums): no cancellation when one study has almost all weight;
    a study that alone determines a coefficient (h_ii = 1) adds nothing."""
    v = np.asarray(v, float)
    k = len(v)
    X = np.ones((k, 1)) if X is None else np.asarray(X, float)
    p = X.shape[1]
    if k <= p:
        return float(np.mean(v))
    w = 1 / v
    scale = w.max()
    ws = w / scale
    outer = ws[:, None, None] * X[:, :, None] * X[:, None, :]
    csum = np.cumsum(outer, axis=0)
    before = np.concatenate([np.zeros((1, p, p)), csum[:-1]])
    after = np.cumsum(outer[::-1], axis=0)[::-1]  # sums over j >= i from the end, not total - prefix
    after = np.concatenate([after[1:], np.zeros((1, p, p))])
    others = before + after
    vals, vecs = np.linalg.eigh(others)  # A_(-i) may be singular: a study alone in its subgroup
    proj = np.einsum("kji,kj->ki", vecs, X)
    null = vals <= 1e-12 * np.maximum(vals.max(axis=1, keepdims=True), 1e-300)
    alone = np.any(null & (np.abs(proj) > 1e-9 * np.linalg.norm(X, axis=1, keepdims=True)), axis=1)  # h_ii = 1
    quad = np.sum(np.where(null, 0.0, proj**2 / np.where(null, 1.0, vals)), axis=1)
    trace = scale * np.sum(np.where(alone, 0.0, ws / (1 + ws * quad)))
    return float((k - p) / trace)


@dataclass
class LinearFamily:
    """Base of the families that are Gaussian given tau (see the module docstring).

    Subclasses set `name`, `coef_name` (the PyMC/DataTree name of beta: "mu" or "beta") and `coef_dim`
    (None for a scalar, else "term" or "group"), and in __post_init__ build `terms`, `coef_priors` (one
    MuPrior per coefficient) and `blocks`; they resolve quantity names in `_quantity` and list the summary
    rows in `summary_rows`. effects="common" fixes tau = 0.

    What the output shows differs per family and is declared here, so that plots and reports carry no family
    names: `display` is the layout of its figures and report rows ("pooled": one pooled effect; "subgroups": a
    block per subgroup; "regression": coefficients, no pooled effect, a bubble plot; "clusters": studies
    within clusters), and `revman_forest` whether RevMan draws its forest plot of such a model.
    """

    data: object
    mu_prior: object = None
    display = "pooled"
    revman_forest = False
    beta_prior: object = None
    effects: str = "random"
    name: ClassVar[str] = "linear"
    coef_name: ClassVar[str] = "beta"
    coef_dim: ClassVar[str | None] = None
    tau_dim = None  # "group" when each block has its own tau
    dropped = ()  # (row, study, column) of rows left out for a missing moderator (drop_missing=True)
    exact_integrator: ClassVar[str] = "tau"  # how the exact engine integrates the heterogeneity (engines/)

    # ---------------------------------------------------------------- construction helpers
    def _block(self, rows, X, coef) -> Block:
        rows = np.asarray(rows, int)
        mean = np.array([p.m if p.kind == "normal" else 0.0 for p in self.coef_priors[coef]])
        prec = np.array([1 / p.s**2 if p.kind == "normal" else 0.0 for p in self.coef_priors[coef]])
        return Block(rows, self.data.y[rows], self.data.vi[rows], np.asarray(X, float), coef, mean, prec,
                     self.effects == "common")

    def _leave_out_missing(self, design):
        """Keep the rows of `design` (bayesmeta.design) and list those it dropped for a missing moderator."""
        if len(design.dropped):
            self.data = self.data.take(design.rows)
            self.dropped = design.dropped

    @property
    def p(self) -> int:
        return len(self.terms)

    @property
    def random(self) -> bool:
        return not all(b.common for b in self.blocks)

    def block_of(self, study: int) -> tuple[int, int]:
        """(block, position within the block) of the study at data position `study`."""
        if not hasattr(self, "_where"):
            self._where = {int(r): (j, pos) for j, b in enumerate(self.blocks) for pos, r in enumerate(b.rows)}
        return self._where[study]

    def check_exact(self):
        """Raise ValueError where the exact engine cannot fit this family."""
        if any(p.kind == "student_t" for p in self.coef_priors):
            raise ValueError("the exact engine takes a flat or normal prior on mu and the coefficients; use engine='mcmc' "
                             "for a Student-t prior")

    # ---------------------------------------------------------------- quantities
    def unit(self, j: int) -> np.ndarray:
        a = np.zeros(self.p)
        a[j] = 1.0
        return a

    def heterogeneity(self, transform: str, block: int = 0) -> Heterogeneity:
        if not hasattr(self, "_s2"):
            self._s2 = [typical_variance(b.v, b.X) for b in self.blocks]
        return Heterogeneity(block, transform, self._s2[block])

    def study_index(self, label: str) -> int:
        """Position of a study given by label or 1-based number."""
        label = label.strip().strip("'\"")
        labels = [str(s) for s in self.data.study]
        if label in labels:
            return labels.index(label)
        if label.isdigit() and 1 <= int(label) <= len(labels):
            return int(label) - 1
        raise ValueError(f"no study {label!r}; studies are {labels}")

    def quantity(self, name: str):
        """The quantity called `name` (see the subclass for the names it knows)."""
        base, arg = split_name(name)
        if base == "theta" and arg is not None:
            return Shrunken(self.study_index(arg))
        return self._quantity(base, arg, name)

    def _quantity(self, base, arg, name):  # pragma: no cover - per subclass
        raise NotImplementedError

    def unknown(self, name, known) -> ValueError:
        return ValueError(f"no quantity {name!r} in the {self.name} model; quantities: {', '.join(known)}")

    def summary_rows(self) -> list[str]:  # pragma: no cover - per subclass
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - per subclass
        """The model in words, without the prior on tau (the Model adds it)."""
        raise NotImplementedError

    def coefficient_rows(self) -> list[str]:
        return [self.coef_name] if self.coef_dim is None else [f"{self.coef_name}[{t}]" for t in self.terms]

    def batchable(self) -> bool:
        """Whether the batch kernel (bayesmeta.engines.batch: many normal-normal analyses at once) fits this
        model exactly; refits of other families go one by one through `bm.fit`."""
        return False

    def arguments(self) -> dict:
        """The keywords of `bm.fit` that make this family (to refit it, e.g. with another prior)."""
        return dict(model=self.effects)

    def continuous_moderators(self) -> list[str]:
        """Numeric data columns the model regresses on (for bubble plots); none by default."""
        return []

    def contrasts(self) -> list[str]:
        """Differences worth summarising (subgroup models); none by default."""
        return []

    def pooled(self) -> list[tuple[str, str, str]]:
        """(where, mean effect, new-study effect) for each pooled effect the model has, e.g.
        ("", "mu", "theta_new"); where is "" or words such as "in subgroup online"."""
        return []

    def comparisons(self) -> list[tuple[str, str]]:
        """(quantity, words) for what the model compares: subgroup differences, moderator coefficients.
        A value on the benefit side means the named condition goes with the more favourable effect."""
        return []

    def derived_draws(self) -> list[str]:
        """Quantities stored as draws in the DataTree besides coefficients, tau and theta."""
        return []

    def shape_free_key(self) -> tuple:
        """The cache key of a one-block family whose PyMC model holds the study dimension only in its pm.Data
        (y, se, X): one compiled model serves data sets of every size (nutpie's with_data; a refit with k = 10
        after k = 18 takes 0.2 s instead of a new compile)."""
        return (self.name, self.terms, tuple(b.common for b in self.blocks))

    def cache_key(self) -> tuple:
        """What a compiled PyMC model depends on besides priors: family, shapes, block layout."""
        return (self.name, self.data.k, self.terms, tuple(len(b.rows) for b in self.blocks),
                tuple(b.common for b in self.blocks))

    # ---------------------------------------------------------------- draws -> DataTree variables
    def coefficient_variables(self, beta, tau) -> dict:
        """Coefficients and heterogeneity as DataTree posterior variables from draws beta (S, p), tau (S, B):
        {name: (array with a leading sample axis, dims after it)}."""
        coef = beta[:, 0] if self.coef_dim is None else beta
        out = {self.coef_name: (coef, [] if self.coef_dim is None else [self.coef_dim])}
        for t in ("tau", "tau2", "I2"):
            values = np.column_stack([self.heterogeneity(t, j).from_tau(tau[:, j]) for j in range(len(self.blocks))])
            out[t] = (values[:, 0], []) if self.tau_dim is None else (values, [self.tau_dim])
        return out

    # ---------------------------------------------------------------- study effects
    def shrunken_components(self, fac, j, pos):
        """Weights and (len(pos), N) means and SDs of theta_i | y for studies at positions `pos` of block j,
        over the nodes of its quadrature `fac`: N(y - B (y - x'b), v (1 - B) + B^2 x'Cx), B = v / (v + tau^2)."""
        block = self.blocks[j]
        x, y, v = block.X[pos], block.y[pos][:, None], block.v[pos][:, None]
        fit_mean, fit_var = x @ fac.b.T, np.einsum("ki,nij,kj->kn", x, fac.cov, x)
        shrink = v / (v + fac.tau**2)
        return fac.weight, y - shrink * (y - fit_mean), np.sqrt(v * (1 - shrink) + shrink**2 * fit_var)

    def draw_study_effects(self, beta, tau, rng) -> np.ndarray:
        """Draws (S, k) of theta_i | beta, tau, y_i ~ N(B x_i'beta + (1 - B) y_i, v_i (1 - B))."""
        theta = np.empty((len(beta), self.data.k))
        for j, block in enumerate(self.blocks):
            t2 = tau[:, j:j + 1] ** 2
            fitted = beta[:, block.coef] @ block.X.T
            shrink = block.v / (block.v + t2)
            theta[:, block.rows] = rng.normal(shrink * fitted + (1 - shrink) * block.y, np.sqrt(block.v * (1 - shrink)))
        return theta

    def pointwise_log_likelihood(self, beta, tau) -> tuple[np.ndarray, str]:
        """log p(y_i | beta, tau) of each study with its effect integrated out, N(y_i | x_i'beta, v_i + tau_b^2),
        from draws beta (S, p), tau (S, B): (S, k) and the dimension it runs over ("study")."""
        out = np.empty((len(beta), self.data.k))
        for j, block in enumerate(self.blocks):
            s2 = block.v + tau[:, j:j + 1] ** 2
            resid = block.y - beta[:, block.coef] @ block.X.T
            out[:, block.rows] = -0.5 * (np.log(2 * np.pi * s2) + resid**2 / s2)
        return out, "study"

    def new_study_sd(self, tau, block: int) -> np.ndarray:
        """The SD of a new study's deviation from x'beta, from draws of the heterogeneity parameters (S, H)."""
        return tau[:, block]

    def new_study_deviation(self, tau, block: int, rng) -> np.ndarray:
        """Draws of a new study's deviation from x'beta given draws of the heterogeneity parameters (S, H)."""
        return self.new_study_sd(tau, block) * rng.standard_normal(len(tau))

    # ---------------------------------------------------------------- the PyMC model
    def hyper_names(self) -> list[str]:
        """Names of the heterogeneity parameters in the PyMC model and DataTree (none for a common effect)."""
        return ["tau"] if self.random else []

    def design_arrays(self):
        """The full design (k, p) and each study's block index, in data order."""
        k = self.data.k
        X, block_of = np.zeros((k, self.p)), np.zeros(k, int)
        for j, block in enumerate(self.blocks):
            X[np.ix_(block.rows, np.arange(self.p)[block.coef])] = block.X
            block_of[block.rows] = j
        return X, block_of

    def pymc_data(self) -> dict:
        """The values of the model's pm.Data, for a refit of the compiled model with other data."""
        return dict(y=self.data.y, se=self.data.se, X=self.design_arrays()[0])

    def pymc_coefficients(self):
        """beta as a PyMC vector (p,), from the coefficient priors (named coef_name, or stacked)."""
        import pymc as pm
        import pytensor.tensor as pt

        priors = self.coef_priors
        if self.coef_dim is None:
            return pt.stack([priors[0].pymc(self.coef_name)])
        if all(p == priors[0] for p in priors):
            return priors[0].pymc(self.coef_name, dims=self.coef_dim)
        return pm.Deterministic(self.coef_name, pt.stack(
            [p.pymc(f"{self.coef_name}_{j}") for j, p in enumerate(priors)]), dims=self.coef_dim)

    def pymc_model(self, spec):
        """y_i ~ N(x_i' beta, se_i^2 + tau_b(i)^2): the study effects integrated out."""
        import pymc as pm
        import pytensor.tensor as pt

        X, block_of = self.design_arrays()
        with pm.Model(coords=self.coords()) as model:
            y = pm.Data("y", self.data.y, dims="study")
            se = pm.Data("se", self.data.se, dims="study")
            mean = pt.dot(pm.Data("X", X), self.pymc_coefficients())
            sd = se
            if self.random:
                taus = [spec.tau_prior.pymc("tau" if len(self.blocks) == 1 else f"tau_{j}", se=se[b.rows])
                        for j, b in enumerate(self.blocks)]
                tau = taus[0] if len(taus) == 1 else pm.Deterministic("tau", pt.stack(taus), dims=self.tau_dim)
                sd = pt.sqrt(se**2 + (tau[block_of] if len(taus) > 1 else tau) ** 2)
            pm.Normal("y_obs", mu=mean, sigma=sd, observed=y, dims="study")
        return model

    def from_posterior(self, post):
        """beta (chains, draws, p) and tau (chains, draws, hyper) from a sampler's posterior Dataset."""
        coef = post[self.coef_name].values
        beta = coef[..., None] if self.coef_dim is None else coef
        if not self.random:
            return beta, np.zeros((*beta.shape[:2], len(self.blocks)))
        t = post["tau"].values
        return beta, t[..., None] if t.ndim == 2 else t

    def coords(self) -> dict:
        coords = {"study": [str(s) for s in self.data.study]}
        if self.coef_dim:
            coords[self.coef_dim] = list(self.terms) if self.coef_dim == "term" else list(self.groups)
        return coords


@dataclass
class PooledEffect(LinearFamily):
    """Families with one pooled effect mu over all studies (one block, X = 1): quantities mu, theta_new (a new
    study's effect: mu plus a deviation of the family's distribution) and the family's `hyper_quantity`s."""

    coef_name = "mu"
    quantities: ClassVar[tuple] = ()

    def __post_init__(self):
        k = self.data.k
        self.terms, self.coef_priors = ("mu",), [self.mu_prior]
        self.blocks = [self._block(np.arange(k), np.ones((k, 1)), slice(0, 1))]

    def _quantity(self, base, arg, name):
        if arg is None:
            if base == "mu":
                return Linear(self.unit(0))
            if base == "theta_new":
                return Linear(self.unit(0), ((0, 0, 1.0),))
            q = self.hyper_quantity(base)
            if q is not None:
                return q
        raise self.unknown(name, [*self.quantities, "theta[study]"])

    def hyper_quantity(self, base):  # pragma: no cover - per subclass
        """The heterogeneity quantity called `base`, or None."""
        raise NotImplementedError

    def summary_rows(self):
        return list(self.quantities)

    def pooled(self):
        return [("", "mu", "theta_new")]

    def derived_draws(self):
        return ["theta_new"]


def split_name(name: str) -> tuple[str, str | None]:
    """'beta[C(x)[T.b]]' -> ('beta', 'C(x)[T.b]'); 'mu' -> ('mu', None)."""
    name = name.strip()
    if "[" in name and name.endswith("]"):
        base, _, rest = name.partition("[")
        return base.strip(), rest[:-1]
    return name, None
