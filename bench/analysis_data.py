"""bench/analysis's data: ROWS × COLUMNS, 80% numeric features (some related to the target),
the rest categorical, a binary target last; written in chunks (bounded memory)."""
import sys
import numpy as np
import pandas as pd

path, rows, columns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
features = columns - 1
numeric = int(features * 0.82)
rng = np.random.default_rng(0)
first = True
for start in range(0, rows, 100_000):
    n = min(100_000, rows - start)
    latent = rng.normal(size=n)
    frame = {}
    for i in range(numeric):
        weight = 1.0 / (1 + i)
        frame[f"x{i}"] = np.round(weight * latent + rng.normal(size=n), 5)
    for i in range(features - numeric):
        levels = np.array([f"c{k}" for k in range(3 + i)])
        frame[f"cat{i}"] = levels[(rng.integers(0, len(levels), size=n) + (latent > 0) * (i % 2)) % len(levels)]
    frame["target"] = (latent + rng.normal(scale=0.5, size=n) > 0).astype(int)
    pd.DataFrame(frame).to_csv(path, mode="w" if first else "a", header=first, index=False)
    first = False
