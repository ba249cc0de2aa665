"""Where the first MCMC fit's time goes: each measurement in a fresh Python process (a cold start, as a user's
script has), split into importing PyMC/nutpie, building the PyMC model, compiling it, and sampling; then a
second fit in the same process (warm: the compiled model is reused with new data).

    python benchmarks/mcmc_cold_start.py            # prints a table; --json for one JSON object

Backends compared: nutpie compiling through numba (the package's default), nutpie through PyTensor's JAX
backend where jax is installed, and PyMC's own NUTS (PyTensor's C backend, whose compiled modules are cached on
disk in PyTensor's compiledir between processes).
"""

from __future__ import annotations

import json
import subprocess
import sys
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
import pymc as pm
backend = sys.argv[1]
if backend != "pymc":
    import nutpie
t2 = time.perf_counter()
model = spec.family.pymc_model(spec)
t3 = time.perf_counter()
if backend == "pymc":
    with model:
        pm.sample(draws=1000, tune=1000, chains=2, cores=1, progressbar=False, random_seed=1, compute_convergence_checks=False)
    t4 = t5 = time.perf_counter()
else:
    compiled = nutpie.compile_pymc_model(model, backend=backend)
    t4 = time.perf_counter()
    nutpie.sample(compiled, draws=1000, tune=1000, chains=2, seed=1, progress_bar=False)
    t5 = time.perf_counter()
t6 = time.perf_counter()
fit = bm.fit(data, engine="mcmc", seed=2, tau_prior="halfnormal(0.5)", chains=2)   # the package's path, warm
t7 = time.perf_counter()
fit = bm.fit(data, engine="mcmc", seed=3, tau_prior="halfnormal(0.5)", chains=2)
t8 = time.perf_counter()
print(json.dumps(dict(backend=backend, import_bayesmeta=t1 - t0, import_pymc=t2 - t1, build_model=t3 - t2,
                      compile=t4 - t3, sample=t5 - t4 if backend != "pymc" else t4 - t3,
                      first_package_fit=t7 - t6, warm_fit=t8 - t7)))
'''


def measure(backend: str) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, backend], capture_output=True, text=True)
    if res.returncode:
        return dict(backend=backend, error=res.stderr.strip().splitlines()[-1])
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    rows = [measure(b) for b in ("numba", "jax", "pymc")]
    if "--json" in sys.argv:
        print(json.dumps(rows))
        return
    for r in rows:
        if "error" in r:
            print(f"{r['backend']:6s} unavailable: {r['error']}")
            continue
        print(f"{r['backend']:6s} import pymc {r['import_pymc']:5.2f} s, build {r['build_model']:5.2f} s, "
              f"compile {r['compile']:6.2f} s, sample {r['sample']:5.2f} s; then bm.fit (package path) "
              f"{r['first_package_fit']:5.2f} s, warm refit {r['warm_fit']:5.2f} s")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - start:.1f} s")
