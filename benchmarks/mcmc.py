"""PyMC engine at k = 18 (ThirdWave): first fit including PyMC import and compilation, then a refit of
other data of the same shape (reuses the prepared model), 4 chains x 1000 draws after 1000 tuning steps;
with nutpie (the default install) and with PyMC's own NUTS (the fallback where nutpie is missing).
mcmc_cold_start.py splits nutpie's first fit into imports, preparation and sampling, and times many refits."""

import subprocess
import sys

CODE = """
import time, numpy as np
t0 = time.perf_counter()
import bayesmeta as bm
if {pymc_only}:
    import bayesmeta.engines.mcmc as mcmc
    mcmc._nutpie = lambda: None
data = bm.datasets.effect_data("thirdwave")
fit = bm.fit(data, tau_prior="halfcauchy(0.5)", mu_prior="normal(0, 1)", engine="mcmc", seed=1)
fit.summary()
t1 = time.perf_counter()
other = bm.EffectData.from_dataframe(data.to_dataframe().assign(y=data.y[::-1]), y="y", se="se")
fit2 = bm.fit(other, tau_prior="halfcauchy(0.5)", mu_prior="normal(0, 1)", engine="mcmc", seed=2)
fit2.summary()
t2 = time.perf_counter()
print(f"{t1 - t0:.2f} {t2 - t1:.2f} {fit.settings['sampler']} {fit.settings['divergences']}")
"""
runs = [subprocess.run([sys.executable, "-c", CODE.replace("{pymc_only}", str(pymc_only))], capture_output=True, text=True,
                       check=True).stdout.split() for pymc_only in (False, True) for _ in range(3)]
for first, refit, sampler, div in runs:
    print(f"first fit {float(first):5.2f} s (incl. import + compile)   same-shape refit {float(refit):5.2f} s   "
          f"sampler {sampler}, divergences {div}")
