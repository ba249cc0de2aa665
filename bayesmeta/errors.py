"""Exceptions and warnings raised by bayesmeta."""

import os

# warnings.warn(..., skip_file_prefixes=PACKAGE_DIR) points a warning at the first line outside the package: the
# user's own call, however deep inside the package the warning is raised
PACKAGE_DIR = (os.path.dirname(os.path.abspath(__file__)),)


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


def user_stacklevel() -> int:
    """warnings.warn's stacklevel of the first frame outside the package, for warnings raised inside a
    dataclass's __post_init__ (its generated __init__ is "<string>", which skip_file_prefixes does not pass)."""
    import sys

    frame, level = sys._getframe(1), 1
    while frame is not None and (frame.f_code.co_filename.startswith(PACKAGE_DIR)
                                 or frame.f_code.co_filename == "<string>"):
        frame, level = frame.f_back, level + 1
    return level
