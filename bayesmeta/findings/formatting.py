"""The one place this package takes its number formatting and escaping from (bayesmeta.formatting)."""

from ..formatting import MISSING, decimals_for, format_number, format_probability, md_escape

__all__ = ["MISSING", "decimals_for", "format_number", "format_probability", "md_escape", "fixed"]


def fixed(value, decimals: int) -> str:
    """A finite number with `decimals` decimals (no '-0.00'); the dash for None or a non-finite value."""
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return MISSING
    return format_number(value, decimals)
