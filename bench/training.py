"""bench/training's driver: one split per dataset, every engine on it, one table."""
import argparse, json, os, subprocess, sys, time, warnings
import numpy as np
import pandas as pd
import training_common as common

warnings.filterwarnings("ignore")
parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--limit", type=float, default=60)
parser.add_argument("--work", required=True)
parser.add_argument("--datasets", required=True)
parser.add_argument("--warehouse", required=True)
parser.add_argument("--engines", default="ours,hgb,lightgbm,autogluon")
parser.add_argument("names", nargs="*")
args = parser.parse_args()
SHARED = ["iris", "wine", "breast_cancer", "digits", "titanic", "penguins", "credit_data", "diabetes", "diamonds"]
TARGETS = {"titanic": "survived", "penguins": "species", "credit_data": "Status", "diamonds": "price"}


def synthetic(name):
    from sklearn.datasets import make_classification, make_regression
    if name == "synthetic_classification":
        X, y = make_classification(n_samples=200000, n_features=30, n_informative=15, random_state=0)
    else:
        X, y = make_regression(n_samples=200000, n_features=30, noise=10, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(30)])
    frame["target"] = y
    path = os.path.join(args.work, name + ".csv")
    frame.to_csv(path, index=False, float_format="%.17g")
    return path


def request(method, path, body=None, headers=None):
    return common.request(args.port, method, path, body, headers)


def ours(name, train_path, test_path, target, task):
    common.upload_dataset(args.port, name, train_path, target)
    job_body = {"user_id": "bench", "dataset_id": name, "target_column": target, "time_limit_s": args.limit,
                "test_fraction": 0, "seed": 42, "task_type": task}
    status, data = request("POST", "/training/jobs", json.dumps(job_body).encode(), {"Content-Type": "application/json"})
    assert status == 202, data
    state = common.wait_for_job(args.port, json.loads(data)["job_id"])
    assert state["status"] == "succeeded", state
    started = pd.Timestamp(state["started_at"]); finished = pd.Timestamp(state["finished_at"])
    fit = (finished - started).total_seconds()
    csv = open(test_path, "rb").read()
    # The first call loads model.json into the server's cache; the second measures serving.
    status, data = request("POST", f"/ai-models/bench/{name}-automl/predict", csv, {"Content-Type": "text/csv"})
    assert status == 200, data
    begin = time.perf_counter()
    status, data = request("POST", f"/ai-models/bench/{name}-automl/predict", csv, {"Content-Type": "text/csv"})
    predict_time = time.perf_counter() - begin
    assert status == 200, data
    answer = json.loads(data)
    return answer["predictions"], fit, predict_time, state["result"]["best_model"]


encode = common.encode
score = common.score


def timed(fit, predict, rows):
    begin = time.perf_counter(); fit(); fit_time = time.perf_counter() - begin
    begin = time.perf_counter(); predicted = predict(); predict_time = time.perf_counter() - begin
    return predicted, fit_time, rows / predict_time


rows = []
names = args.names or SHARED + ["synthetic_classification", "synthetic_regression"]
for name in names:
    path = synthetic(name) if name.startswith("synthetic") else os.path.join(args.datasets, name + ".csv")
    frame = pd.read_csv(path)
    target = TARGETS.get(name, "target")
    task = "regression" if name in ("diabetes", "diamonds", "synthetic_regression") else "classification"
    order = np.random.RandomState(42).permutation(len(frame))
    cut = int(round(len(frame) * 0.8))
    train, test = frame.iloc[order[:cut]].reset_index(drop=True), frame.iloc[order[cut:]].reset_index(drop=True)
    train_path, test_path = os.path.join(args.work, name + "-train.csv"), os.path.join(args.work, name + "-test.csv")
    train.to_csv(train_path, index=False, float_format="%.17g"); test.to_csv(test_path, index=False, float_format="%.17g")
    result = {"dataset": name, "rows": len(frame), "task": task}

    engines = args.engines.split(",")
    predicted, fit, predict_time, best = ours(name, train_path, test_path, target, task)
    truth = test[target]
    if task == "classification":
        predicted = pd.Series(predicted).astype(str).values
        truth = truth.astype(str).values
        # Labels that look like numbers come back as numbers: compare as text of the same value.
        if all(isinstance(v, (int, np.integer)) for v in frame[target].dropna().head(50)):
            truth = test[target].astype(int).astype(str).values
    result["ours"] = (score(task, truth, predicted), fit, len(test) / predict_time, best)

    X_train, X_test, y_train, y_test, _ = encode(train, test, target, task)
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    hgb = (HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor)(
        categorical_features="from_dtype", random_state=42)
    result["hgb"] = result["lightgbm"] = result["autogluon"] = (float("nan"), float("nan"), float("nan"))
    if "hgb" in engines:
        p, f, r = timed(lambda: hgb.fit(X_train, y_train), lambda: hgb.predict(X_test), len(test))
        result["hgb"] = (score(task, y_test, p), f, r)

    import lightgbm as lgb
    model = (lgb.LGBMClassifier if task == "classification" else lgb.LGBMRegressor)(verbose=-1, random_state=42)
    if "lightgbm" in engines:
        p, f, r = timed(lambda: model.fit(X_train, y_train), lambda: model.predict(X_test), len(test))
        result["lightgbm"] = (score(task, y_test, p), f, r)

    from autogluon.tabular import TabularPredictor
    ag = TabularPredictor(label=target, path=os.path.join(args.work, "ag-" + name), verbosity=0,
                          problem_type=None if task == "classification" else "regression")
    if "autogluon" in engines:
        p, f, r = timed(lambda: ag.fit(train, time_limit=args.limit, presets="medium_quality"),
                        lambda: ag.predict(test.drop(columns=[target])), len(test))
        if task == "classification":
            result["autogluon"] = (score(task, test[target].astype(str).values, pd.Series(p).astype(str).values), f, r)
        else:
            result["autogluon"] = (score(task, test[target], p), f, r)

    if name.startswith("synthetic") and "lightgbm" in engines:
        # Our gradient boosting alone vs LightGBM, 100 trees of 31 leaves, on all 200k rows.
        output = subprocess.run([args.warehouse, "bench-boosting", path, "--rounds", "100", "--leaves", "31"],
                                capture_output=True, text=True, check=True).stdout
        alone = json.loads(output.strip().splitlines()[-1])
        X, y = frame.drop(columns=["target"]).values, frame["target"].values
        lgbm = (lgb.LGBMClassifier if task == "classification" else lgb.LGBMRegressor)(n_estimators=100, num_leaves=31, verbose=-1)
        begin = time.perf_counter(); lgbm.fit(X, y); lgbm_fit = time.perf_counter() - begin
        begin = time.perf_counter(); lgbm.predict(X); lgbm_rate = len(X) / (time.perf_counter() - begin)
        result["boosting"] = (alone["fit_seconds"], lgbm_fit, alone["predict_rows_per_second"], lgbm_rate)
    rows.append(result)
    print(json.dumps(result), file=sys.stderr, flush=True)

metric = lambda task: "accuracy" if task == "classification" else "R²"
print(f"\n{time.strftime('%Y-%m-%d')}, limit {args.limit:g} s, test = 20% of rows (shuffle seed 42)\n")
print("| dataset | rows | metric | ours (best model) | HistGB | LightGBM | AutoGluon | fit s: ours / HistGB / LightGBM / AutoGluon | predict rows/s: ours (HTTP) / LightGBM / AutoGluon |")
print("|---|---:|---|---|---:|---:|---:|---|---|")
for r in rows:
    o, h, l, a = r["ours"], r["hgb"], r["lightgbm"], r["autogluon"]
    print(f"| {r['dataset']} | {r['rows']} | {metric(r['task'])} | {o[0]:.4f} ({o[3]}) | {h[0]:.4f} | {l[0]:.4f} | {a[0]:.4f} | "
          f"{o[1]:.1f} / {h[1]:.1f} / {l[1]:.1f} / {a[1]:.1f} | {o[2]:,.0f} / {l[2]:,.0f} / {a[2]:,.0f} |")
print("\n| synthetic set (200,000 rows) | our boosting fit s | LightGBM fit s | ratio | our predict rows/s | LightGBM predict rows/s |")
print("|---|---:|---:|---:|---:|---:|")
for r in rows:
    if "boosting" in r:
        b = r["boosting"]
        print(f"| {r['dataset']} | {b[0]:.2f} | {b[1]:.2f} | {b[0] / b[1]:.2f}x | {b[2]:,.0f} | {b[3]:,.0f} |")
