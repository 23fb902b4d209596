"""The analysis's figures recomputed with scipy and scikit-learn, for DatasetAnalysisTests.

    analysis_reference.py DATA.csv ANALYSIS.json

Reads the warehouse's analysis (which says each feature's type), recomputes every Pearson,
Spearman and Cramér's V and each categorical feature's mutual information on all rows, and
prints the largest absolute difference per measure as JSON."""
import json, sys
import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats.contingency import association
from sklearn.metrics import mutual_info_score

frame = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
analysis = json.load(open(sys.argv[2]))
MISSING = {"", "na", "n/a", "nan", "null", "none", "?", "nil", "-nan", "#n/a"}
BOOLEAN = {"true": 1, "yes": 1, "t": 1, "y": 1, "1": 1, "false": 0, "no": 0, "f": 0, "n": 0, "0": 0}
def missing(values):
    return values.str.strip().str.lower().isin(MISSING)

def numbers(values):
    """A numeric column as the warehouse reads it: numbers, or booleans as 0 and 1."""
    present = values.where(~missing(values))
    lowered = present.dropna().str.strip().str.lower()
    if len(lowered) and lowered.isin(BOOLEAN).all() and not pd.to_numeric(lowered, errors="coerce").notna().all():
        return present.str.strip().str.lower().map(BOOLEAN).to_numpy(float)
    return pd.to_numeric(present, errors="coerce").to_numpy(float)

target = frame[analysis["target"]]
frame = frame[~missing(target)].reset_index(drop=True)
target = frame[analysis["target"]].str.strip()
if analysis["task"] == "regression":
    y = pd.to_numeric(target).to_numpy(float)
else:
    try:
        order = sorted(target.unique(), key=float)
    except ValueError:
        order = sorted(target.unique())
    y = target.map({label: index for index, label in enumerate(order)}).to_numpy(float)
binary_or_numeric = analysis["task"] == "regression" or len(set(y)) == 2

worst = {"pearson": 0.0, "spearman": 0.0, "cramers_v": 0.0, "mutual_information": 0.0}
checked = {key: 0 for key in worst}
for feature in analysis["features"]:
    column = frame[feature["name"]]
    absent = missing(column)
    if feature["type"] == "numeric":
        if not binary_or_numeric:
            continue
        x = numbers(column)
        keep = ~np.isnan(x)
        pearson = stats.pearsonr(x[keep], y[keep]).statistic
        spearman = stats.spearmanr(x[keep], y[keep]).statistic
        worst["pearson"] = max(worst["pearson"], abs(pearson - feature["pearson"]))
        worst["spearman"] = max(worst["spearman"], abs(spearman - feature["spearman"]))
        checked["pearson"] += 1
        checked["spearman"] += 1
    else:
        x = column.str.strip().where(~absent, "\0missing")
        mi = mutual_info_score(x, y)
        worst["mutual_information"] = max(worst["mutual_information"], abs(mi - feature["mutual_information"]))
        checked["mutual_information"] += 1
        if analysis["task"] != "regression":
            table = pd.crosstab(x, y).to_numpy()
            v = association(table, method="cramer")
            worst["cramers_v"] = max(worst["cramers_v"], abs(v - feature["cramers_v"]))
            checked["cramers_v"] += 1
worst["pairs"] = 0.0
checked["pairs"] = 0
for pair in analysis["pairs"]:
    a, b = frame[pair["a"]], frame[pair["b"]]
    if pair["measure"] == "pearson":
        xa, xb = numbers(a), numbers(b)
        keep = ~np.isnan(xa) & ~np.isnan(xb)
        value = stats.pearsonr(xa[keep], xb[keep]).statistic
    else:
        value = association(pd.crosstab(a.str.strip().where(~missing(a), "\0missing"),
                                        b.str.strip().where(~missing(b), "\0missing")).to_numpy(), method="cramer")
    worst["pairs"] = max(worst["pairs"], abs(value - pair["value"]))
    checked["pairs"] += 1
print(json.dumps({"worst": worst, "checked": checked}))
