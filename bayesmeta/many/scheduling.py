"""Running chunks of analyses: threads, a dask.distributed client, a progress bar, and gathering the rows (errors raised or skipped)."""

from __future__ import annotations

import math
import os
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from .. import priors as _priors
from ..errors import PACKAGE_DIR, DataError
from .groups import _plain

_WARNINGS = threading.Lock()  # warnings.catch_warnings swaps process-wide state: one thread at a time


def _chunks(items, size):
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --------------------------------------------------------------------------- runners
def _progress(total, show):
    """A rich progress bar on stderr when it is a terminal (or show=True); else a no-op."""
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(TextColumn("analyses"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True), transient=True)
    bar.start()
    bar.add_task("fit", total=total)
    return bar


def _client(scheduler):
    """(client, close_after) from a dask.distributed Client or its address."""
    if scheduler is None:
        return None, False
    try:
        from dask.distributed import Client
    except ImportError as err:  # pragma: no cover - a dependency
        raise RuntimeError("scheduler= needs dask.distributed (pip install 'dask[distributed]')") from err
    if isinstance(scheduler, Client):
        return scheduler, False
    if isinstance(scheduler, str):
        return Client(scheduler), True
    raise ValueError(f"scheduler must be a dask.distributed Client or its address (e.g. 'tcp://host:8786'), "
                     f"not {type(scheduler).__name__}")


def _run(items, task, chunk_size, scheduler, threads, show):
    """Run task(chunk) over the chunks of `items` and yield the results in chunk order; at most a few chunks
    in flight (memory flat)."""
    chunks = list(_chunks(items, chunk_size))
    bar = _progress(len(items), show)
    try:
        client, close = _client(scheduler)
        try:
            if client is not None:
                yield from _run_dask(client, chunks, task, bar)
            elif threads > 1 and len(chunks) > 1:
                with ThreadPoolExecutor(threads) as pool:
                    pending = {}
                    for i, chunk in enumerate(chunks):
                        pending[i] = pool.submit(task, chunk)
                        if i >= threads:
                            yield _advance(bar, pending.pop(i - threads).result())
                    for i in sorted(pending):
                        yield _advance(bar, pending[i].result())
            else:
                for chunk in chunks:
                    yield _advance(bar, task(chunk))
        finally:
            if client is not None and close:
                client.close()
    finally:
        if bar is not None:
            bar.stop()


def _advance(bar, result):
    if bar is not None:
        bar.advance(bar.task_ids[0], len(result[0]))
    return result


def _run_dask(client, chunks, task, bar):
    """Chunks to the workers, two per worker in flight, results yielded in chunk order."""
    from dask.distributed import as_completed

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    window = 2 * workers
    futures, done, next_out, it = {}, {}, 0, iter(enumerate(chunks))
    queue = as_completed()
    for i, chunk in it:
        fut = client.submit(task, chunk, pure=False)
        futures[fut.key] = i
        queue.add(fut)
        if len(futures) >= window:
            break
    for fut in queue:
        done[futures.pop(fut.key)] = fut.result()
        fut.release()
        nxt = next(it, None)
        if nxt is not None:
            new = client.submit(task, nxt[1], pure=False)
            futures[new.key] = nxt[0]
            queue.add(new)
        while next_out in done:
            yield _advance(bar, done.pop(next_out))
            next_out += 1


def _default_threads():
    return max(1, min(os.cpu_count() or 1, 4))


def _gather(groups, items, task, how, errors, failed, names, first=None):
    """Run `task` over the chunks of `items` (how: chunk size, scheduler, threads, progress) and lay out its
    results, one row per group that did not fail: the by columns, k, the `first` columns, the `names`
    columns; and the per-group labels (engine or notes) and the kept groups. A chunk's warnings are given
    with the group's name; a group that failed raises (errors='raise') or joins `failed`."""
    values = np.full((len(groups), len(names)), np.nan)
    labels = np.full(len(groups), None, dtype=object)
    for idx, vals, lab, bad, said in _run(items, task, *how):
        values[idx], labels[idx] = vals, lab
        for g, messages in said.items():
            for category, message in messages:
                warnings.warn(f"{groups.name(g)}: {message}", category, skip_file_prefixes=PACKAGE_DIR)
        for g, reason in bad.items():
            message = f"{groups.name(g)}: {reason}"
            if errors == "raise":
                raise DataError(message)
            failed[g] = message
    keep = np.array(sorted(set(range(len(groups))) - set(failed)), int)
    table = groups.keys.iloc[keep].reset_index(drop=True)
    table["k"] = np.diff(groups.offsets)[keep]
    for column, value in (first or {}).items():
        table[column] = value
    return pd.concat([table, pd.DataFrame(values[keep], columns=list(names))], axis=1), labels, keep


def _sizes_of(chunk_size, threads, n_items, scheduler, sampled=False, per=2000):
    """Chunk size (at most `per` groups) and threads (a sampler runs its chains in parallel itself: one thread)."""
    if threads is None:
        threads = _default_threads() if scheduler is None and not sampled else 1
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a whole number >= 1, not {threads!r}")
    if chunk_size is None:
        chunk_size = max(1, min(per, math.ceil(n_items / max(2 * threads, 8 if scheduler is not None else 1))))
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a whole number >= 1, not {chunk_size!r}")
    return chunk_size, threads


def _attrs(groups, failed, ci, tau_prior, mu, engine, seed):
    """The table's attrs, JSON-safe (pandas writes them into parquet files): `skipped` is a list of records
    {by columns..., "reason"} (pd.DataFrame(table.attrs["skipped"]) makes it a table)."""
    skipped = [{**{c: _plain(v) for c, v in zip(groups.by, groups.keys.iloc[g])}, "reason": failed[g]}
               for g in sorted(failed)]
    out = dict(skipped=skipped, interval=f"{ci:.0%} equal-tailed credible interval",
               tau_prior="default by measure" if tau_prior is None else str(_priors.tau_prior(tau_prior)),
               mu_prior=str(mu), engine=engine)
    if seed is not None:  # a sampler's seed
        out["seed"] = int(seed)
    return out
