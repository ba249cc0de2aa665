"""Saving and loading fits: one netCDF file holds the posterior DataTree and, in its root attributes, what
rebuilds the fit (data, family arguments, priors at full precision, engine, seed, settings).

Each engine restores its own fits (`Engine.restore`): the exact engine runs the quadrature again (the same
exact numbers and the same seeded draws); the MCMC engine restores the saved draws.
"""

from __future__ import annotations

import dataclasses
import io
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

FORMAT = "bayesmeta-fit/1"


def prior_spec(prior) -> dict:
    """A prior string that parses back to the same numbers, and its source."""
    if getattr(prior, "kind", None) is not None:  # a prior on mu or the coefficients
        text = {"flat": "flat", "normal": f"normal({prior.m!r}, {prior.s!r})",
                "student_t": f"student_t({prior.nu!r}, {prior.m!r}, {prior.s!r})"}[prior.kind]
    elif hasattr(prior, "_params"):
        text = f"{prior.keyword}({', '.join(repr(float(v)) for v in prior._params().values())})"
    else:
        text = str(prior)
    return {"spec": text, "source": getattr(prior, "source", "")}


def _prior(parse, saved):
    prior = parse(saved["spec"])
    return dataclasses.replace(prior, source=saved["source"]) if saved["source"] else prior


def _frame(df) -> dict | None:
    """A table as JSON with what JSON loses: which columns are text (so "007" stays "007" and a text moderator
    "1", "2" stays text) and the level order of categorical columns."""
    if df is None:
        return None
    kinds = {str(c): ("category" if isinstance(df[c].dtype, pd.CategoricalDtype) else
                      "text" if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]))
                      else "number") for c in df.columns}
    levels = {str(c): [_plain(v) for v in df[c].cat.categories] for c in df.columns
              if isinstance(df[c].dtype, pd.CategoricalDtype)}
    return dict(table=df.to_json(orient="split", date_format="iso"), kinds=kinds, levels=levels)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _read_frame(saved):
    if saved is None:
        return None
    if isinstance(saved, str):  # saved before the column kinds were recorded
        return pd.read_json(io.StringIO(saved), orient="split")
    df = pd.read_json(io.StringIO(saved["table"]), orient="split", dtype=False)
    for col, kind in saved["kinds"].items():
        if kind == "category":
            df[col] = pd.Categorical(df[col], categories=saved["levels"][col])
        elif kind == "text":
            df[col] = df[col].astype(object)
    return df


def save_fit(fit, path) -> None:
    data = fit.data
    record = dict(
        format=FORMAT, engine=fit.engine, seed=fit.seed, settings=fit.settings, family=fit.family.arguments(),
        tau_prior=prior_spec(fit.spec.tau_prior), mu_prior=prior_spec(fit.spec.mu_prior),
        beta_prior=prior_spec(fit.spec.beta_prior), tau_prior_note=fit.spec.tau_prior_note,
        tau_within_prior=None if fit.spec.tau_within_prior is None else prior_spec(fit.spec.tau_within_prior),
        data=dict(y=data.y.tolist(), se=data.se.tolist(), study=[str(s) for s in data.study], measure=data.measure,
                  benefit=data.benefit, outcome=data.outcome, moderators=_frame(data.moderators.reset_index()),
                  arms=_frame(data.arms), cluster=None if data.cluster is None else list(data.cluster)))
    from .errors import DataError

    if not isinstance(path, (str, Path)) or not str(path):
        raise DataError(f"save(): give a file path, not {path!r}")
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; give a file name such as {path / 'fit.nc'}")
    if not path.parent.is_dir():
        raise DataError(f"{path}: the folder {path.parent} does not exist")
    for label in [*data.study, *([] if data.cluster is None else data.cluster)]:
        if "\x00" in str(label):
            raise DataError(f"save(): the label {str(label)!r} holds a NUL character, which netCDF cannot store; "
                            "rename it")
    tree = fit.idata.copy()
    tree.attrs["bayesmeta_fit"] = json.dumps(record, default=_json_default)
    tmp = path.with_name(path.name + ".partial")
    try:
        with warnings.catch_warnings():  # the netCDF writer's notes on encodings are not the user's business
            warnings.simplefilter("ignore")
            tree.to_netcdf(tmp)
        tmp.replace(path)
    except OSError as err:
        raise DataError(f"{path}: cannot write the fit ({err.strerror or type(err).__name__})") from None
    finally:
        tmp.unlink(missing_ok=True)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot save {type(obj).__name__}")


def load(path):
    """The fit saved by `Fit.save` (or written as fit.nc by `bayesmeta run`)."""
    import xarray as xr

    from .errors import DataError

    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a saved fit")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        tree = xr.open_datatree(path)
        record = json.loads(tree.attrs["bayesmeta_fit"])
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise DataError(f"{path}: not a saved bayesmeta fit ({type(err).__name__})") from None
    if record.get("format") != FORMAT:
        raise DataError(f"{path}: unknown fit format {record.get('format')!r} (this version reads {FORMAT})")
    try:
        return _rebuild(record, tree)
    except (KeyError, TypeError, IndexError) as err:
        raise DataError(f"{path}: not a saved bayesmeta fit (its record lacks {err})") from None


def _rebuild(record, tree):
    """The Fit from a saved record and DataTree."""
    from . import priors
    from .effects import EffectData
    from .engines import get_engine
    from .model import Model
    from .posterior import Fit

    d = record["data"]
    mods = _read_frame(d["moderators"])
    mods = mods.set_index(mods.columns[0]) if mods is not None and len(mods.columns) else None
    if mods is not None:
        mods.index = pd.Index(d["study"], name="study")
    data = EffectData(np.array(d["y"]), np.array(d["se"]), np.array(d["study"], dtype=object), d["measure"],
                      d["benefit"], mods if mods is not None else pd.DataFrame(index=pd.Index(d["study"], name="study")),
                      arms=_read_frame(d["arms"]), outcome=d["outcome"], cluster=d.get("cluster"))
    within = record.get("tau_within_prior")
    spec = Model.build(data, _prior(priors.tau_prior, record["tau_prior"]), _prior(priors.mu_prior, record["mu_prior"]),
                       beta_prior=_prior(priors.mu_prior, record["beta_prior"]),
                       tau_within_prior=None if within is None else _prior(priors.tau_prior, within), **record["family"])
    spec = dataclasses.replace(spec, tau_prior_note=record["tau_prior_note"])
    settings, seed = record["settings"], record["seed"]
    backend = get_engine(record["engine"]).restore(spec, tree, settings, seed)
    return Fit(spec, backend, record["engine"], seed, settings)
