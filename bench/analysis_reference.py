"""bench/analysis's reference: pandas reads the whole CSV, scipy/pandas compute each numeric
feature's Pearson and Spearman with the target, each categorical feature's Cramér's V, and
every numeric pair's Pearson. Prints the time, the peak memory and the Pearsons as JSON."""
import json, resource, sys, time
import pandas as pd
from scipy.stats.contingency import association

start = time.perf_counter()
frame = pd.read_csv(sys.argv[1])
y = frame["target"]
numeric = [c for c in frame.columns if c != "target" and frame[c].dtype.kind in "fi"]
categorical = [c for c in frame.columns if c != "target" and c not in numeric]
pearson = {c: float(frame[c].corr(y)) for c in numeric}
spearman = {c: float(frame[c].corr(y, method="spearman")) for c in numeric}
cramers = {c: float(association(pd.crosstab(frame[c], y).to_numpy(), method="cramer")) for c in categorical}
pairs = frame[numeric].corr()
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows": len(frame), "pearson": pearson}))
