"""What bench/training.py and bench/training_presets.py share: the warehouse's HTTP calls, the
pandas encoding the Python learners get, and the test metric."""
import http.client, time, uuid
import pandas as pd

AUTH = {"Authorization": "Bearer bench-admin-token"}


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    conn.request(method, path, body=body, headers={**AUTH, **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def upload_dataset(port, dataset, train_path, target):
    """POST /datasets/upload of the CSV as user bench, without a job."""
    boundary = uuid.uuid4().hex
    fields = [("user_id", "bench"), ("dataset_id", dataset), ("auto_train", "false"), ("target_column", target)]
    head = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields).encode()
    body = head + f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{dataset}.csv"\r\n\r\n'.encode() \
        + open(train_path, "rb").read() + f"\r\n--{boundary}--\r\n".encode()
    status, data = request(port, "POST", "/datasets/upload", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 200, data


def wait_for_job(port, job):
    """Polls until the job ends; its final state."""
    import json
    while True:
        status, data = request(port, "GET", f"/training/jobs/{job}")
        state = json.loads(data)
        if state["status"] in ("succeeded", "failed", "cancelled"):
            return state
        time.sleep(0.2)


def encode(train, test, target, task):
    """Pandas frames for the Python learners: categories as category dtype, labels as codes;
    also the names of the categorical columns."""
    X_train, X_test = train.drop(columns=[target]).copy(), test.drop(columns=[target]).copy()
    categorical = []
    for column in X_train.columns:
        if X_train[column].dtype == object:
            categories = pd.Categorical(X_train[column].dropna()).categories
            X_train[column] = pd.Categorical(X_train[column], categories=categories)
            X_test[column] = pd.Categorical(X_test[column], categories=categories)
            categorical.append(column)
    y_train, y_test = train[target], test[target]
    if task == "classification":
        classes = sorted(y_train.unique(), key=lambda v: (str(type(v)), v))
        lookup = {c: i for i, c in enumerate(classes)}
        y_train = y_train.map(lookup).astype(int)
        y_test = y_test.map(lambda v: lookup.get(v, -1)).astype(int)
    return X_train, X_test, y_train, y_test, categorical


def score(task, truth, predicted):
    from sklearn.metrics import accuracy_score, r2_score
    return accuracy_score(truth, predicted) if task == "classification" else r2_score(truth, predicted)
