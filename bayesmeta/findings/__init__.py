"""Summary of findings (GRADE) across the outcomes of a review: `Outcome`, `summary_of_findings`, the
`SummaryOfFindings` table and its HTML, markdown, CSV and Word exporters; review files (`review_file`).

Modules: `outcome` (Outcome: the posterior of one outcome), `absolute` (absolute effects), `certainty` (GRADE
arithmetic and suggestions), `statements` (informative statements, the Bayesian sentence), `table`
(SummaryOfFindings), `layout` (the printed cells), `render_html`, `render_markdown`, `render_docx`,
`review_file` (TOML and RevMan reviews), `output` (a folder of results), `formatting` (the one import point for
number formatting).
"""

from .outcome import Outcome
from .table import SummaryOfFindings, summary_of_findings

__all__ = ["Outcome", "SummaryOfFindings", "summary_of_findings"]
