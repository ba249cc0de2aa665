"""Exceptions and warnings raised by bayesmeta."""


class DataError(ValueError):
    """Bad input data. The message names the row (study label) and the column."""


class DataWarning(UserWarning):
    """Input that is valid but looks suspicious (e.g. an SD that may be a standard error)."""


class ConvergenceWarning(UserWarning):
    """A numerical method or a sampler did not converge as it should; the message says what to do."""


class EstimationWarning(UserWarning):
    """A frequentist estimator hit a boundary or is undefined for these data (as metafor warns)."""


def plain(value):
    """A value as it should appear in a message: NumPy scalars as Python numbers (0.1, not np.float64(0.1))."""
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", None) == 0 else value
