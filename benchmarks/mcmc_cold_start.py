"""The first MCMC fit in a new Python process (what a user's script feels) against a warm refit, each row a fresh
process: thirdwave (18 studies), normal-normal model in marginal form, the package defaults (4 chains x (1000
tune + 1000 draws)).

    python benchmarks/mcmc_cold_start.py            # prints a table; --json for one JSON object per row

Rows:
- package, cache empty: `bm.fit(engine="mcmc")` with PyTensor's base_compiledir (C modules and numba cache) pointed at a new empty folder, as on
  a machine that has never compiled the model (PyTensor compiles its numba functions and caches them);
- package, cache filled: the same in the next process (what every later script on the machine gets);
- nutpie's own `compile_pymc_model` (numba cfuncs, not cached between processes: the package's path before).
Each splits the time into the imports (bayesmeta, then PyMC and nutpie), the first fit, the second, fits 3 to 20
(the package switches to the fast tier at fit 9, bayesmeta/engines/nutpie_model.py) and fit 21.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

CHILD = r'''
import json, sys, time, warnings
warnings.simplefilter("ignore")
t0 = time.perf_counter()
import bayesmeta as bm
from bayesmeta.model import Model
data = bm.datasets.effect_data("thirdwave")
spec = Model.build(data, "halfnormal(0.5)", "flat")
t1 = time.perf_counter()
import pymc, nutpie
t2 = time.perf_counter()
if sys.argv[1] == "package":
    first = lambda seed: bm.fit(data, engine="mcmc", seed=seed, tau_prior="halfnormal(0.5)")
else:   # nutpie's own compile (numba cfuncs), then its sampler with the package's settings
    compiled = []
    def first(seed):
        if not compiled:
            compiled.append(nutpie.compile_pymc_model(spec.family.pymc_model(spec)))
        nutpie.sample(compiled[0], draws=1000, tune=1000, chains=4, seed=seed, progress_bar=False)
first(1)
t3 = time.perf_counter()
first(2)
t4 = time.perf_counter()
for seed in range(3, 21):   # a script that refits one model often (leave-one-out, a prior grid)
    first(seed)
t5 = time.perf_counter()
first(21)
t6 = time.perf_counter()
print(json.dumps(dict(import_bayesmeta=t1 - t0, import_pymc_nutpie=t2 - t1, first_fit=t3 - t2, warm_fit=t4 - t3,
                      fits_3_to_20=t5 - t4, fit_21=t6 - t5)))
'''


def measure(label: str, path: str, compiledir: str | None = None) -> dict:
    env = dict(os.environ)
    if compiledir:
        env["PYTENSOR_FLAGS"] = f"base_compiledir={compiledir}"
    res = subprocess.run([sys.executable, "-c", CHILD, path], capture_output=True, text=True, env=env)
    if res.returncode:
        return dict(row=label, error=res.stderr.strip().splitlines()[-1])
    return dict(row=label, **json.loads(res.stdout.strip().splitlines()[-1]))


def main():
    with tempfile.TemporaryDirectory() as empty:
        rows = [measure("package, cache empty", "package", empty),
                measure("package, cache filled", "package", empty),
                measure("nutpie compile_pymc_model", "nutpie")]
    if "--json" in sys.argv:
        print(json.dumps(rows))
        return
    for r in rows:
        if "error" in r:
            print(f"{r['row']:27s} failed: {r['error']}")
            continue
        print(f"{r['row']:27s} import bayesmeta {r['import_bayesmeta']:4.2f} s, PyMC+nutpie "
              f"{r['import_pymc_nutpie']:4.2f} s; first fit {r['first_fit']:5.2f} s, second {r['warm_fit']:4.2f} s, "
              f"fits 3-20 {r['fits_3_to_20']:5.2f} s in all, fit 21 {r['fit_21']:4.2f} s")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - start:.1f} s")
