"""bench/training-presets' driver: our three presets against six reference engines, several
seeds (each its own 80/20 split of every dataset), one table.

For each seed s: shuffle with RandomState(42 + s), first 80% train, last 20% test; every engine
trains on the same rows with seed s and is scored on the same test rows (accuracy or R²).
Ours goes through the HTTP API (`POST /training/jobs` with `preset`, `time_limit_s`,
`test_fraction` 0, `seed`), its time is the job's wall time (start to registered version);
the references' is `fit()`:
  - scikit-learn HistGradientBoosting (defaults, categorical_features="from_dtype")
  - scikit-learn RandomForest (300 trees, categories as ordinal codes, missing values native)
  - LightGBM (defaults), XGBoost (hist, enable_categorical), CatBoost (defaults, categorical
    features named, thread_count 2)
  - AutoGluon TabularPredictor(time_limit=LIMIT, presets="medium_quality")."""
import argparse, json, os, statistics, sys, time, warnings
import numpy as np
import pandas as pd
import training_common as common

warnings.filterwarnings("ignore")
parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--limit", type=float, default=60)
parser.add_argument("--work", required=True)
parser.add_argument("--datasets", required=True)
parser.add_argument("--seeds", default="0,1,2")
parser.add_argument("--presets", default="fast,balanced,best")
parser.add_argument("--engines", default="hgb,rf,lightgbm,xgboost,catboost,autogluon")
parser.add_argument("--out", required=True)
parser.add_argument("names", nargs="*")
args = parser.parse_args()
SHARED = ["iris", "wine", "breast_cancer", "digits", "titanic", "penguins", "credit_data", "diabetes", "diamonds"]
TARGETS = {"titanic": "survived", "penguins": "species", "credit_data": "Status", "diamonds": "price"}
REGRESSION = {"diabetes", "diamonds"}


def request(method, path, body=None, headers=None):
    return common.request(args.port, method, path, body, headers)


def ours(dataset, preset, seed, test_path, target, task):
    model = f"{dataset}-{preset}"
    job_body = {"user_id": "bench", "dataset_id": dataset, "model_id": model, "target_column": target, "time_limit_s": args.limit,
                "test_fraction": 0, "seed": seed, "task_type": task, "preset": preset}
    status, data = request("POST", "/training/jobs", json.dumps(job_body).encode(), {"Content-Type": "application/json"})
    assert status == 202, data
    state = common.wait_for_job(args.port, json.loads(data)["job_id"])
    assert state["status"] == "succeeded", state
    wall = (pd.Timestamp(state["finished_at"]) - pd.Timestamp(state["started_at"])).total_seconds()
    status, data = request("POST", f"/ai-models/bench/{model}/predict", open(test_path, "rb").read(), {"Content-Type": "text/csv"})
    assert status == 200, data
    return json.loads(data)["predictions"], wall, state["result"]["best_model"]


encode = common.encode
score = common.score


def reference(engine, task, seed, X_train, X_test, y_train, categorical, train, test, target, dataset):
    classification = task == "classification"
    if engine == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
        model = (HistGradientBoostingClassifier if classification else HistGradientBoostingRegressor)(
            categorical_features="from_dtype", random_state=seed)
        begin = time.perf_counter(); model.fit(X_train, y_train)
        return model.predict(X_test), time.perf_counter() - begin
    if engine == "rf":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
        codes = lambda X: X.apply(lambda c: c.cat.codes.replace(-1, np.nan) if c.name in categorical else c).astype(float)
        model = (RandomForestClassifier if classification else RandomForestRegressor)(n_estimators=300, n_jobs=2, random_state=seed)
        begin = time.perf_counter(); model.fit(codes(X_train), y_train)
        return model.predict(codes(X_test)), time.perf_counter() - begin
    if engine == "lightgbm":
        import lightgbm as lgb
        model = (lgb.LGBMClassifier if classification else lgb.LGBMRegressor)(verbose=-1, random_state=seed)
        begin = time.perf_counter(); model.fit(X_train, y_train)
        return model.predict(X_test), time.perf_counter() - begin
    if engine == "xgboost":
        import xgboost as xgb
        model = (xgb.XGBClassifier if classification else xgb.XGBRegressor)(tree_method="hist", enable_categorical=True,
                                                                            random_state=seed, n_jobs=2)
        begin = time.perf_counter(); model.fit(X_train, y_train)
        return model.predict(X_test), time.perf_counter() - begin
    if engine == "catboost":
        from catboost import CatBoostClassifier, CatBoostRegressor
        text = lambda X: X.apply(lambda c: c.astype(str) if c.name in categorical else c)
        model = (CatBoostClassifier if classification else CatBoostRegressor)(verbose=0, random_seed=seed, thread_count=2,
                                                                             cat_features=categorical or None)
        begin = time.perf_counter(); model.fit(text(X_train), y_train)
        return np.asarray(model.predict(text(X_test))).ravel(), time.perf_counter() - begin
    if engine == "autogluon":
        from autogluon.tabular import TabularPredictor
        predictor = TabularPredictor(label=target, path=os.path.join(args.work, f"ag-{dataset}-{seed}"), verbosity=0,
                                     problem_type=None if classification else "regression")
        begin = time.perf_counter(); predictor.fit(train, time_limit=args.limit, presets="medium_quality")
        fit = time.perf_counter() - begin
        predicted = predictor.predict(test.drop(columns=[target]))
        if classification:
            classes = sorted(train[target].unique(), key=lambda v: (str(type(v)), v))
            lookup = {c: i for i, c in enumerate(classes)}
            predicted = predicted.map(lambda v: lookup.get(v, -1))
        return np.asarray(predicted), fit
    raise SystemExit(f"unknown engine {engine}")


names = args.names or SHARED
presets = args.presets.split(",")
engines = args.engines.split(",")
seeds = [int(s) for s in args.seeds.split(",")]
results = []
for seed in seeds:
    for name in names:
        frame = pd.read_csv(os.path.join(args.datasets, name + ".csv"))
        target = TARGETS.get(name, "target")
        task = "regression" if name in REGRESSION else "classification"
        order = np.random.RandomState(42 + seed).permutation(len(frame))
        cut = int(round(len(frame) * 0.8))
        train, test = frame.iloc[order[:cut]].reset_index(drop=True), frame.iloc[order[cut:]].reset_index(drop=True)
        train_path, test_path = os.path.join(args.work, f"{name}-{seed}-train.csv"), os.path.join(args.work, f"{name}-{seed}-test.csv")
        train.to_csv(train_path, index=False, float_format="%.17g"); test.to_csv(test_path, index=False, float_format="%.17g")
        dataset = f"{name}-s{seed}"
        common.upload_dataset(args.port, dataset, train_path, target)
        truth_text = test[target].astype(str).values
        if task == "classification" and all(isinstance(v, (int, np.integer)) for v in frame[target].dropna().head(50)):
            truth_text = test[target].astype(int).astype(str).values
        for preset in presets:
            predicted, wall, best = ours(dataset, preset, seed, test_path, target, task)
            value = score(task, truth_text, pd.Series(predicted).astype(str).values) if task == "classification" \
                else score(task, test[target], predicted)
            row = {"seed": seed, "dataset": name, "engine": "ours-" + preset, "score": value, "seconds": wall, "best": best}
            results.append(row); print(json.dumps(row), file=sys.stderr, flush=True)
        X_train, X_test, y_train, y_test, categorical = encode(train, test, target, task)
        for engine in engines:
            predicted, fit = reference(engine, task, seed, X_train, X_test, y_train, categorical, train, test, target, dataset)
            value = score(task, y_test, predicted)
            row = {"seed": seed, "dataset": name, "engine": engine, "score": value, "seconds": fit}
            results.append(row); print(json.dumps(row), file=sys.stderr, flush=True)
        json.dump(results, open(args.out, "w"))

# The tables.
def cell(dataset, engine):
    rows = [r for r in results if r["dataset"] == dataset and r["engine"] == engine]
    return rows

print(f"\n{time.strftime('%Y-%m-%d')}, limit {args.limit:g} s, seeds {args.seeds} (each its own 80/20 split), "
      f"{os.cpu_count()} cores\n")
print("| dataset | metric | " + " | ".join(f"ours {p}: score (min–max), s" for p in presets)
      + " | best reference (mean) | balanced − best reference, per seed |")
print("|---|---|" + "---|" * len(presets) + "---|---|")
for name in names:
    metric = "R²" if name in REGRESSION else "accuracy"
    cells = []
    for preset in presets:
        rows = cell(name, "ours-" + preset)
        scores = [r["score"] for r in rows]
        cells.append(f"{statistics.mean(scores):.4f} ({min(scores):.4f}–{max(scores):.4f}), {statistics.mean(r['seconds'] for r in rows):.1f}")
    # The best reference engine per seed (the max over six), and which it was on average.
    per_seed_best = {}
    for seed in seeds:
        rows = [r for r in results if r["dataset"] == name and r["seed"] == seed and not r["engine"].startswith("ours")]
        top = max(rows, key=lambda r: r["score"])
        per_seed_best[seed] = top
    means = {e: statistics.mean(r["score"] for r in cell(name, e)) for e in engines}
    best_engine = max(means, key=means.get)
    margins = []
    for seed in seeds:
        balanced = [r for r in results if r["dataset"] == name and r["seed"] == seed and r["engine"] == "ours-balanced"]
        if balanced:
            margins.append(f"{100 * (balanced[0]['score'] - per_seed_best[seed]['score']):+.1f} ({per_seed_best[seed]['engine']})")
    print(f"| {name} | {metric} | " + " | ".join(cells) + f" | {best_engine} {means[best_engine]:.4f} | " + ", ".join(margins) + " |")

print("\n| dataset | " + " | ".join(engines) + " |")
print("|---|" + "---:|" * len(engines))
for name in names:
    print(f"| {name} | " + " | ".join(f"{statistics.mean(r['score'] for r in cell(name, e)):.4f} ({statistics.mean(r['seconds'] for r in cell(name, e)):.1f} s)" for e in engines) + " |")
