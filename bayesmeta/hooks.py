"""Extension points that a lower layer calls and a higher layer fills, so that imports run one way.

`Fit.report()` and `Fit.save()` are documented aliases of the free functions `bayesmeta.reports.render_report`
and `bayesmeta.persist.save_fit`: the Fit (posterior layer) calls `hooks.call("report", fit, ...)`, and the
package facade (`bayesmeta/__init__.py`, above every layer) registers the output functions here.
"""

from __future__ import annotations

_HOOKS: dict = {}


def register(name: str, function) -> None:
    """Make `function` the implementation of the hook `name` (e.g. "report", "save")."""
    _HOOKS[name] = function


def call(name: str, *args, **kwargs):
    """Call the function registered under `name`."""
    if name not in _HOOKS:
        raise RuntimeError(f"no {name!r} function is registered (import bayesmeta, which registers it)")
    return _HOOKS[name](*args, **kwargs)
