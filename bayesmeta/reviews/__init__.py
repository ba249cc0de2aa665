"""Review files: RevMan 5 (.rm5), RevMan 5 CSV exports, RevMan Web data packages and Metapsy tables, read into
one `Review` (analyses by RevMan's number "1.2"), with RevMan's pooling reproduced and checked against the numbers
the file stores, Bayesian fits of every analysis and a whole-review report. Entry point: `bayesmeta.read_revman`.

Modules: `core` (Review, Analysis), `rm5`, `csv_export`, `data_package`, `metapsy` (one reader per format), `text`
(encodings and column names), `check` (RevMan vs ours), `output` (the `bayesmeta review` folder).
"""

from .core import Analysis, Review

__all__ = ["Analysis", "Review"]
