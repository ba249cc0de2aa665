"""Moderator formulas -> design matrices, shared by the Bayesian and the frequentist meta-regression.

Formulas are read by formulaic (`~ weeks + C(setting)`, `~ np.log(weeks + 1)`, `~ 0 + C(group)`, ...).
Categorical coding is metafor's `factor(x)`: treatment contrasts with the first level as reference, levels in
the order R sorts them in an English locale (case-insensitive, so "information only" < "no intervention" <
"WLC"); a pandas Categorical keeps its own level order, as an R factor does. The intercept is named
"intercept", the other coefficients keep formulaic's names ("weeks", "C(setting)[T.indiv]", "tester[T.blind]").

>>> d = design_matrix(data, "~ weeks + C(setting)")
>>> d.X, d.terms            # (k, p) matrix; ("intercept", "weeks", "C(setting)[T.indiv]")
>>> d.matrix({"weeks": [0, 10], "setting": "group"})   # rows for new moderator values, same coding
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import DataError, plain

INTERCEPT = "intercept"
COLLINEAR = 1e-6  # a unit-length column this close to the span of the earlier ones counts as collinear (as metafor
# refuses X'X with an eigenvalue below 1e-7, the coefficients would be fixed by rounding)


@dataclass(frozen=True)
class Design:
    """The design matrix of a moderator formula on the studies of an EffectData."""

    X: np.ndarray
    terms: tuple[str, ...]
    formula: str
    columns: tuple[str, ...]
    rows: np.ndarray
    dropped: tuple = ()
    levels: dict = field(default_factory=dict, repr=False)  # categorical column -> its levels, reference first
    spec: object = field(default=None, repr=False, compare=False)  # formulaic ModelSpec

    @property
    def k(self) -> int:
        return self.X.shape[0]

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def has_intercept(self) -> bool:
        """True when the constant lies in the column space (an intercept, or a full set of group dummies)."""
        ones = np.ones(self.k)
        fit, *_ = np.linalg.lstsq(self.X, ones, rcond=None)
        return bool(np.linalg.norm(self.X @ fit - ones) <= 1e-8 * math.sqrt(self.k))

    def matrix(self, newdata) -> np.ndarray:
        """Rows of X for new moderator values (a dict of scalars or lists, or a DataFrame), coded as X."""
        if isinstance(newdata, (dict, pd.DataFrame)):
            newdata = moderator_frame(newdata)
        if not isinstance(newdata, pd.DataFrame):
            raise DataError(f"new moderator values must be a dict or a DataFrame, not {type(newdata).__name__}")
        absent = [c for c in self.columns if c not in newdata.columns]
        if absent:
            raise DataError(f"new moderator values: no column {absent[0]!r}; the formula {self.formula!r} uses "
                            f"{list(self.columns)}")
        frame = newdata[list(self.columns)].reset_index(drop=True)
        for col in self.columns:
            for i, value in enumerate(frame[col]):
                if _is_missing(value):
                    raise DataError(f"new moderator values, row {i + 1}, column {col!r}: value is missing")
            if col in self.levels:
                known = self.levels[col]
                unknown = [v for v in frame[col] if v not in known]
                if unknown:
                    raise DataError(f"new moderator values, column {col!r}: unknown level {unknown[0]!r}; the "
                                    f"model knows {list(known)}")
                frame[col] = pd.Categorical(frame[col], categories=known)
            else:
                frame[col] = _numeric_column(frame[col], col, where="new moderator values, ")
        return np.asarray(self.spec.get_model_matrix(frame, na_action="raise"), dtype=float)


def design_matrix(data, formula: str, drop_missing: bool = False) -> Design:
    """The design matrix of `formula` on the moderators of `data` (an EffectData).

    Every failure is a one-line DataError: a formula with a left-hand side or several parts, a name that is not a
    column, a missing moderator value (unless `drop_missing`, which drops the row and records it in `dropped`),
    a column with the same value in every study, a rank-deficient design (naming the collinear terms and
    columns), and a design with as many coefficients as studies or more.
    """
    table = _moderator_table(data)
    formula = _check_formula_text(formula, table)
    labels = np.asarray(data.study, dtype=object)
    matrix = _evaluate(formula, table)  # on every row, to learn which columns the formula reads
    columns = tuple(c for c in table.columns if c in matrix.model_spec.variables_by_source.get("data", set()))
    rows, dropped = _complete_rows(table, columns, labels, drop_missing)
    frame, levels = _prepared(table.iloc[rows], columns, labels[rows], rows + 1)
    _check_not_constant(frame, columns, formula)
    if dropped:  # levels and stateful transforms from the rows kept
        import formulaic

        matrix = formulaic.model_matrix(formula, frame, na_action="raise", context=FORMULA_CONTEXT)
    X = np.asarray(matrix, dtype=float)
    spec = matrix.model_spec
    terms = tuple(INTERCEPT if name == "Intercept" else name for name in spec.column_names)
    if X.shape[1] == 0:
        raise DataError(f"formula {formula!r} has no coefficients (use '~ 1' for the intercept-only model)")
    _check_rank(X, terms, spec, formula)
    k, p = X.shape
    if k <= p:
        raise DataError(f"formula {formula!r}: k = {k} studies but {p} coefficients ({', '.join(terms)}); a "
                        "meta-regression needs more studies than coefficients")
    return Design(X=X, terms=terms, formula=formula, columns=columns, rows=rows, dropped=tuple(dropped),
                  levels=levels, spec=spec)


def subgroup_labels(data, column: str) -> tuple[np.ndarray, list]:
    """The subgroup of each study (as text, in data order) and the groups in sorted order.

    Text is sorted as R sorts factor levels (case-insensitive); numbers numerically; a pandas Categorical keeps
    its level order. Missing columns and values are DataErrors, as in `design_matrix`.
    """
    table = _moderator_table(data)
    _require_column(column, table, f"subgroup {column!r}")
    labels = np.asarray(data.study, dtype=object)
    _complete_rows(table, (column,), labels, drop_missing=False)
    values = table[column]
    order = _levels(values)
    names = _level_names(order, values, column, labels)
    return np.array([names[v] for v in values], dtype=object), [names[v] for v in order]


# --------------------------------------------------------------------------- helpers
def moderator_frame(values) -> pd.DataFrame:
    """New moderator values as a DataFrame: a DataFrame as it is, a dict of scalars and equal-length lists
    with the scalars repeated."""
    if isinstance(values, pd.DataFrame):
        return values.reset_index(drop=True)
    arrays = {c: list(np.atleast_1d(np.asarray(v, dtype=object))) for c, v in values.items()}
    lengths = {len(a) for a in arrays.values() if len(a) != 1}
    if len(lengths) > 1:
        raise DataError(f"new moderator values: the lists have different lengths {sorted(lengths)}")
    n = lengths.pop() if lengths else 1
    return pd.DataFrame({c: a * n if len(a) == 1 else a for c, a in arrays.items()})


_TRANSFORMS = frozenset({"C", "I", "Q", "log", "exp", "sqrt", "center", "scale", "poly"})
_NUMPY = frozenset({"log", "exp", "sqrt", "log1p", "log2", "log10", "abs"})  # np.log(...) and the like
_CONTRASTS = frozenset({"treatment", "sum", "helmert", "diff", "poly"})  # C(x, contr.sum)
_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Call, ast.keyword, ast.Name, ast.Constant,
          ast.Attribute, ast.List, ast.Tuple, ast.Load, ast.operator, ast.unaryop, ast.cmpop)
# the functions a formula may call, evaluated by formulaic in this namespace only (never the caller's frame)
FORMULA_CONTEXT = {"sqrt": np.sqrt, "log": np.log, "exp": np.exp, "np": np, "numpy": np}


def check_formula_safe(formula: str, table=None):
    """Refuse any formula that is more than data: every factor formulaic would evaluate as Python is parsed
    with `ast` and may hold only column names, numbers (and strings as arguments), arithmetic, comparisons and
    calls of the allowed transforms (C, I, Q, log, exp, sqrt, center, scale, poly, np.log/exp/sqrt/...);
    no attributes beyond np.<transform> and contr.<coding>, no dunder names, lambdas, comprehensions,
    subscripts, f-strings or walrus. The columns of `table` (a DataFrame, when known) are the only other names
    allowed."""
    from formulaic import Formula

    def column(name):
        if table is not None:
            _require_column(name, table, f"formula {formula!r}")

    for term in Formula(formula):
        for factor in term.factors:
            method = str(factor.eval_method.value).lower()
            if method == "lookup":
                column(factor.expr)
            elif method == "python":
                _check_expression(factor.expr, formula, column)


def _check_expression(expr, formula, column):
    def refuse(what):
        raise DataError(f"formula {formula!r}: {what} is not allowed in a formula (formulas hold column names, "
                        f"numbers, arithmetic and the transforms {', '.join(sorted(_TRANSFORMS - {'Q'}))})")

    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        refuse(f"{expr!r}")
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            refuse(f"{type(node).__name__} ({ast.unparse(node) if isinstance(node, ast.AST) else expr!r})")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str)):
            refuse(f"the constant {node.value!r}")
        if isinstance(node, ast.Name) and "__" in node.id:
            refuse(f"the name {node.id!r}")
        if isinstance(node, ast.keyword) and (node.arg is None or "__" in node.arg):
            refuse("**keywords")
        if isinstance(node, ast.Attribute) and not (
                isinstance(node.value, ast.Name) and ((node.value.id in ("np", "numpy") and node.attr in _NUMPY)
                                                      or (node.value.id == "contr" and node.attr in _CONTRASTS))):
            refuse(f"the attribute {ast.unparse(node)!r}")
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id not in _TRANSFORMS:
                refuse(f"unknown function {func.id!r}:")
            if not isinstance(func, (ast.Name, ast.Attribute)):
                refuse(f"the call {ast.unparse(func)!r}")
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    attributes = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    quoted = {id(a) for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
              and n.func.id == "Q" for a in n.args}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) in quoted:
            column(node.value)
        if isinstance(node, ast.Name) and id(node) not in called | attributes:
            column(node.id)


def _check_formula_text(formula, table=None) -> str:
    if not isinstance(formula, str) or not formula.strip():
        raise DataError(f"moderators must be a formula such as '~ weeks + C(setting)', not {formula!r}")
    formula = formula.strip()
    if "~" in formula and formula.split("~", 1)[0].strip():
        raise DataError(f"formula {formula!r} has a left-hand side; give only the moderators, e.g. "
                        f"'~ {formula.split('~', 1)[1].strip()}' (the effects are the response)")
    from formulaic import Formula
    from formulaic.errors import FormulaicError

    try:
        parsed = Formula(formula)
    except (FormulaicError, SyntaxError, ValueError) as err:
        raise DataError(f"formula {formula!r} cannot be read: {_first_line(err)}") from None
    if type(parsed).__name__ != "SimpleFormula":
        raise DataError(f"formula {formula!r} has several parts; give one right-hand side such as '~ weeks + setting'")
    check_formula_safe(formula, table)
    return formula


def _moderator_table(data) -> pd.DataFrame:
    table = getattr(data, "moderators", None)
    if table is None or not isinstance(table, pd.DataFrame):
        table = pd.DataFrame(index=range(data.k))
    if len(table) != data.k:
        raise DataError(f"the moderator table has {len(table)} rows but the data have {data.k} studies")
    return table


def _require_column(name, table, what):
    if name not in table.columns:
        hint = ("" if len(table.columns) else
                " (pass moderators=[...] when building the EffectData, e.g. EffectData.from_dataframe(df, ..., "
                "moderators=['weeks']))")
        raise DataError(f"{what}: no column {name!r}; the data have moderators {list(table.columns)}{hint}")


def _evaluate(formula, table):
    """formulaic's model matrix of the formula on the whole table (text as Categorical in R's level order)."""
    import formulaic
    from formulaic.errors import FormulaicError

    try:
        return formulaic.model_matrix(formula, _prepared(table, tuple(table.columns), None, check=False)[0],
                                      na_action="ignore", context=FORMULA_CONTEXT)
    except FormulaicError as err:
        text = _first_line(err)
        name = re.search(r"`([^`]+)` is not present in the dataset|name '(\w+)' is not defined", text)
        if name:
            name = name.group(1) or name.group(2)
            if re.search(rf"\b{re.escape(name)}\s*\(", formula):
                raise DataError(f"formula {formula!r}: unknown function {name!r}") from None
            _require_column(name, table, f"formula {formula!r}")
        raise DataError(f"formula {formula!r} cannot be evaluated: {text}") from None


def _is_missing(value) -> bool:
    if isinstance(value, str):
        return value.strip() == ""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _missing(values: pd.Series) -> np.ndarray:
    """Missing values (NaN, None, NA, blank text) as a boolean array."""
    out = values.isna().to_numpy(copy=True)
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        out |= np.array([isinstance(v, str) and not v.strip() for v in values], dtype=bool)
    return out


def _complete_rows(table, columns, labels, drop_missing):
    missing = np.zeros((len(table), len(columns)), dtype=bool)
    for j, col in enumerate(columns):
        missing[:, j] = _missing(table[col])
    dropped = []
    for i in np.flatnonzero(missing.any(axis=1)):
        col = columns[int(np.argmax(missing[i]))]
        if not drop_missing:
            raise DataError(f"row {i + 1} ({labels[i]!r}), column {col!r}: moderator value is missing "
                            "(pass drop_missing=True to leave such studies out)")
        dropped.append((int(i) + 1, str(labels[i]), col))
    return np.flatnonzero(~missing.any(axis=1)).astype(int), dropped


def _is_categorical(values: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values))


def _levels(values: pd.Series) -> list:
    """Distinct values in level order: a Categorical's own order, numbers numerically, text as R sorts it."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna())
        return [c for c in values.cat.categories if c in present]
    distinct = list(dict.fromkeys(values.dropna()))
    if all(isinstance(v, (int, float, np.integer, np.floating, bool, np.bool_)) for v in distinct):
        return sorted(distinct)
    return sorted(distinct, key=lambda v: (str(v).casefold(), str(v).swapcase()))


def _level_names(order, values, column, labels) -> dict:
    """{level: its name as text}; two distinct levels with one name (the number 1 and the text "1", as a
    spreadsheet column of mixed types gives) are an error naming both rows."""
    names, first = {}, {}
    for v in order:
        name = _level_name(v)
        if name in first:
            rows = [next(i for i, x in enumerate(values) if type(x) is type(u) and x == u) for u in (first[name], v)]
            raise DataError(f"column {column!r}: rows {rows[0] + 1} ({labels[rows[0]]!r}) and {rows[1] + 1} "
                            f"({labels[rows[1]]!r}) hold {first[name]!r} and {v!r}, two values that read the same; "
                            "make the column all numbers or all text")
        names[v], first[name] = name, v
    return names


def _level_name(value) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _numeric_column(values: pd.Series, col, labels=None, rownums=None, where="") -> pd.Series:
    """The column checked to hold finite numbers (numeric columns keep their dtype, so 2 stays "2")."""
    out = values if pd.api.types.is_numeric_dtype(values) else pd.to_numeric(values, errors="coerce")
    for i, (raw, num) in enumerate(zip(values, out)):
        number = i + 1 if rownums is None else rownums[i]
        row = f"{where}row {number}" + ("" if labels is None else f" ({labels[i]!r})") + f", column {col!r}"
        if pd.isna(num):
            raise DataError(f"{row}: {plain(raw)!r} is not a number")
        if not math.isfinite(num):
            raise DataError(f"{row}: value is infinite")
    return out if pd.api.types.is_numeric_dtype(values) else out.astype(float)


def _prepared(table, columns, labels, rownums=None, check=True):
    """The columns with text as Categorical in R's level order; numeric columns checked to be finite."""
    frame, levels = table.reset_index(drop=True).copy(), {}
    for col in columns:
        values = frame[col]
        if _is_categorical(values):
            if check:
                _check_mostly_numbers(values, col, labels, rownums)
                _level_names(_levels(values), values, col, labels)
            levels[col] = tuple(_levels(values))
            frame[col] = pd.Categorical(values, categories=list(levels[col]))
        elif check:
            frame[col] = _numeric_column(values, col, labels, rownums)
    return frame, levels


def _check_mostly_numbers(values, col, labels, rownums):
    """Text in a column of numbers (a typo such as '1O') is an error, not a factor with one level per value."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return
    parsed = pd.to_numeric(values, errors="coerce")
    numbers = int(parsed.notna().sum())
    if len(values) / 2 < numbers < len(values):
        i = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise DataError(f"row {rownums[i]} ({labels[i]!r}), column {col!r}: {values.iloc[i]!r} is not a number (the "
                        "column's other values are numbers)")


def _check_not_constant(frame, columns, formula):
    for col in columns:
        values = frame[col]
        distinct = values.nunique(dropna=True)
        if distinct == 1 and len(values) > 1:
            value = values.iloc[0].item() if hasattr(values.iloc[0], "item") else values.iloc[0]
            raise DataError(f"formula {formula!r}: column {col!r} has the same value ({value!r}) in every "
                            "study, so it cannot explain differences between studies; drop it from the formula")


def _check_rank(X, terms, spec, formula):
    norms = np.linalg.norm(X, axis=0)
    for j, term in enumerate(terms):
        if norms[j] == 0:
            raise DataError(f"formula {formula!r}: coefficient {term!r} is 0 in every study (a level or "
                            "combination that no study has); drop it from the formula")
        size = float(np.max(np.abs(X[:, j])))
        if not 1e-100 <= size <= 1e100:
            cols = ", ".join(_term_columns(spec, [term])) or term
            raise DataError(f"formula {formula!r}: the values of {term!r} are at most {size:.3g} in size, beyond "
                            f"what its coefficient's variance can hold in float64; rescale {cols} (other units)")
    Z = X / norms
    for j in range(1, len(terms)):
        coef, *_ = np.linalg.lstsq(Z[:, :j], Z[:, j], rcond=None)
        if np.linalg.norm(Z[:, :j] @ coef - Z[:, j]) > COLLINEAR:
            continue
        partners = [terms[i] for i in range(j) if abs(coef[i]) > 1e-8]
        cols = _term_columns(spec, [terms[j], *partners])
        raise DataError(f"formula {formula!r}: the design is rank-deficient: {terms[j]!r} is (within 1e-6) a linear "
                        f"combination of {', '.join(repr(t) for t in partners)} (collinear columns: "
                        f"{', '.join(cols) or 'none'}); remove one of them")


def _term_columns(spec, names) -> list[str]:
    """The data columns behind coefficient names, via formulaic's term structure."""
    data_vars = spec.variables_by_source.get("data", set())
    out = []
    for item in spec.structure:
        names_here = {INTERCEPT if n == "Intercept" else n for n in item.columns}
        if names_here & set(names):
            for var in sorted(spec.term_variables.get(item.term, set()) & data_vars):
                if var not in out:
                    out.append(var)
    return out


def _first_line(err) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
