"""Time `import bayesmeta` against `import numpy, pandas` in fresh interpreters (best of 7)."""

import subprocess
import sys


def best(code, repeat=7):
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", f"import time; t=time.perf_counter(); {code}; "
                              "print(time.perf_counter()-t)"], capture_output=True, text=True, check=True)
        runs.append(float(out.stdout))
    return min(runs)


base = best("import numpy, pandas")
full = best("import numpy, pandas, bayesmeta")
heavy = subprocess.run([sys.executable, "-c", "import sys, bayesmeta; print([m for m in ('pymc', 'pytensor', "
                        "'arviz_base', 'matplotlib') if m in sys.modules])"], capture_output=True, text=True).stdout
print(f"import numpy, pandas            {1000 * base:7.1f} ms")
print(f"import numpy, pandas, bayesmeta {1000 * full:7.1f} ms  (+{1000 * (full - base):.1f} ms; goal +300 ms)")
print(f"heavy modules loaded by import bayesmeta: {heavy.strip()}")
