"""bench/onnx's driver: train, download model.onnx, compare and time it against /predict."""
import argparse, csv, http.client, json, math, os, subprocess, sys, time, uuid
import numpy as np
import onnx
import onnxruntime as ort

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--limit", type=float, default=30)
parser.add_argument("--work", required=True)
parser.add_argument("--datasets", required=True)
parser.add_argument("names", nargs="*")
args = parser.parse_args()
AUTH = {"Authorization": "Bearer bench-admin-token"}
SHARED = ["iris", "wine", "breast_cancer", "digits", "titanic", "penguins", "credit_data", "diabetes", "diamonds"]
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "Tests", "python"))
import onnx_parity  # the same row building and input conversion as the tests


def request(method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=600)
    conn.request(method, path, body=body, headers={**AUTH, **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def train(name, path):
    boundary = uuid.uuid4().hex
    fields = [("user_id", "bench"), ("dataset_id", name), ("auto_train", "true"), ("time_limit", str(args.limit))]
    head = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields).encode()
    body = head + f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}.csv"\r\n\r\n'.encode() \
        + open(path, "rb").read() + f"\r\n--{boundary}--\r\n".encode()
    status, data = request("POST", "/datasets/upload", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 200, data
    job = json.loads(data)["training_job"]["job_id"]
    while True:
        state = json.loads(request("GET", f"/training/jobs/{job}")[1])
        if state["status"] in ("succeeded", "failed", "cancelled"):
            assert state["status"] == "succeeded", state
            return state
        time.sleep(0.2)


print(f"| dataset | model | model.json | model.onnx | ORT load | labels equal | max rel. diff | rows | ORT rows/s | /predict rows/s | ratio |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for name in args.names or SHARED:
    path = os.path.join(args.datasets, name + ".csv")
    state = train(name, path)
    record = json.loads(request("GET", f"/ai-models/bench/{name}-automl")[1])
    sizes = {f["file_path"]: f["file_size"] for f in record["files"]}
    model_path = os.path.join(args.work, name + ".onnx")
    status, data = request("GET", f"/ai-models/bench/{name}-automl/download?filename=model.onnx")
    assert status == 200
    open(model_path, "wb").write(data)
    rows_path = os.path.join(args.work, name + "-rows.csv")
    with open(os.devnull, "w") as quiet:
        sys.stdout, saved = quiet, sys.stdout
        onnx_parity.write_rows(path, rows_path, 10**9)
        sys.stdout = saved
    body = open(rows_path, "rb").read()
    # The first call loads the pipeline into the cache; the best of three after it is timed.
    status, answer = request("POST", f"/ai-models/bench/{name}-automl/predict", body, {"Content-Type": "text/csv"})
    assert status == 200, answer[:300]
    predict_seconds = math.inf
    for _ in range(3):
        started = time.perf_counter()
        request("POST", f"/ai-models/bench/{name}-automl/predict", body, {"Content-Type": "text/csv"})
        predict_seconds = min(predict_seconds, time.perf_counter() - started)
    predict_path = os.path.join(args.work, name + "-predict.json")
    open(predict_path, "wb").write(answer)
    result = subprocess.run([sys.executable, onnx_parity.__file__, "compare", model_path, rows_path, predict_path],
                            capture_output=True, text=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])

    started = time.perf_counter()
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    load_seconds = time.perf_counter() - started
    with open(rows_path, newline="") as f:
        rows = list(csv.DictReader(f))
    feeds = onnx_parity.feeds(onnx.load(model_path), rows)
    session.run(None, feeds)
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        session.run(None, feeds)
        best = min(best, time.perf_counter() - started)
    ort_rate = len(rows) / best
    predict_rate = len(rows) / predict_seconds
    agreement = report.get("label_agreement")
    print(f"| {name} | {record['algorithm']} | {sizes['model.json'] / 1e6:.2f} MB | {sizes['model.onnx'] / 1e6:.2f} MB | "
          f"{load_seconds * 1000:.0f} ms | {'–' if agreement is None else f'{agreement:.2%}'} | "
          f"{report['max_relative_error']:.1e} | {len(rows)} | {ort_rate:,.0f} | {predict_rate:,.0f} | {ort_rate / predict_rate:.1f}x |",
          flush=True)
