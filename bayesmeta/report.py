"""Plain-language reports of a fit (text for now)."""

from __future__ import annotations


def render_report(fit, format="text", **kwargs):
    s = fit.summary()
    lines = [fit.spec.describe(), ""]
    for q, r in s.iterrows():
        lines.append(f"{q}: mean {r['mean']:.3f}, 95% CrI [{r['lower']:.3f}, {r['upper']:.3f}]")
    return "\n".join(lines)
