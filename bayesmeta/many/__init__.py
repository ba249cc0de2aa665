"""Many meta-analyses at once: `fit_many` (Bayesian, normal-normal model) and `frequentist_many` (the
frequentist twin), one row per group of a table.

    table = bm.fit_many(df, by=["outcome", "time"], y="yi", se="sei", tau_prior="halfnormal(0.5)",
                        probs=["mu < 0", "theta_new < -0.2"])
    table = bm.frequentist_many(df, by="analysis", method="REML")

Each group is what `bm.fit(bm.EffectData.from_table(group, **columns), ...)` would fit, and gets the same
numbers (to 1e-7; in practice 1e-10): the exact engine's quadrature runs for many groups in one NumPy pass
(`bayesmeta.engines.batch`), and the few groups whose quadrature fails its accuracy check are fitted one by
one with the adaptive single-analysis engine (column `engine`). Effects are read the way
`EffectData.from_table` reads them (y with se or vi, or the two arms' n, mean and SD; common column names
recognised), vectorised over the whole table; a group with a suspect value is read by `from_table` itself,
so a group with bad data raises its `DataError`, naming the group and the row of the table, or, with
errors="skip", is left out and listed in `table.attrs["skipped"]` with the reason (a list of records, so
that the attrs stay JSON-safe: pandas writes them into parquet files).

Groups go out in chunks (`chunk_size` analyses): in this process (a thread per core; every analysis gets
the same numbers whichever chunk it is in), or to the workers of a dask.distributed cluster
(`scheduler=` a Client or its address). Results come back in the order of the groups' first rows; only
the summary rows are kept, so memory stays flat with the number of analyses.

Orchestration here (`groups`: the table split into checked groups; `scheduling`: chunks over threads or dask;
`bayesian`: fit_many; `frequentist`: frequentist_many), kernels apart: the Bayesian quadrature over a batch axis
in `bayesmeta.engines.batch`, the frequentist one in `rma_kernel`.
"""

from .bayesian import fit_many, run_chunk
from .frequentist import frequentist_many, run_freq_chunk
from .groups import parse_event
from .rma_kernel import FREQ_FIELDS, rma_many

__all__ = ["FREQ_FIELDS", "fit_many", "frequentist_many", "parse_event", "rma_many", "run_chunk", "run_freq_chunk"]
