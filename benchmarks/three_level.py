"""Three-level model on the Metapsy depression data (78 effects in 48 studies): the exact fit (two-dimensional
quadrature), its summaries and shrinkage; the frequentist rma.mv twin; MCMC first fit (with compilation) and
a refit of same-shaped data (compiled model reused). Goal (issue 12): exact fit under 100 ms."""

import time

from _common import best_of

import bayesmeta as bm

data = bm.EffectData.from_dataframe(bm.datasets.load("internet_depression_selfguided"), y="g", se="se_g",
                                    cluster="study", benefit="higher")
bm.fit(data, model="three-level", seed=1)  # warm-up

fit = bm.fit(data, model="three-level", seed=1)
print(f"exact fit: {best_of(lambda: bm.fit(data, model='three-level', seed=1), repeat=3):.0f} ms "
      f"({fit.settings['nodes']} nodes)")
print(f"  + summary: {best_of(lambda: bm.fit(data, model='three-level', seed=1).summary(), repeat=3):.0f} ms")
print(f"  + summary and shrinkage: "
      f"{best_of(lambda: (lambda f: (f.summary(), f.shrinkage()))(bm.fit(data, model='three-level', seed=1)), repeat=3):.0f} ms")
print(f"rma.mv REML: {best_of(lambda: bm.frequentist(data, model='three-level'), repeat=5):.1f} ms")
t0 = time.perf_counter()
bm.fit(data, model="three-level", engine="mcmc", seed=1)
t1 = time.perf_counter()
shifted = bm.EffectData(data.y + 0.1, data.se, data.study, cluster=data.cluster)
bm.fit(shifted, model="three-level", engine="mcmc", seed=2)
t2 = time.perf_counter()
print(f"MCMC first fit (compilation included) {t1 - t0:.1f} s; same-shape refit {t2 - t1:.1f} s")
