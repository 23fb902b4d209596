"""Latency of the query shapes of bench/search, p50/p99 over repeated requests, one client.

    search_latency.py warehouse PORT TOKEN ROUNDS        (HTTP API of a running server)
    search_latency.py mlflow DB ROUNDS                   (run with MLflow's python)

Each round runs every variant of every shape once, so shapes see the same cache state.
Prints one JSON line per shape: {"shape", "p50_ms", "p99_ms", "n", "rows", "total"}.
"""
import http.client, json, sys, time, urllib.parse

PAGE = 20
WORDS = ["resnet", "fraud detector", "sentiment", "xray", "bert churn", "weather forecaster", "llama legal", "spam"]
FRAMEWORKS = ["pytorch", "huggingface", "sklearn", "tensorflow"]

# (shape, [query strings]) for the warehouse; every shape has 8 variants.
WAREHOUSE_SHAPES = [
    ("text only", [{"query": w} for w in WORDS]),
    ("filter only", [{"filter": f"framework = '{f}' AND num_parameters > {p}"} for f in FRAMEWORKS for p in ("1e6", "1e8")]),
    ("filter: issue example", [{"filter": f"framework = '{f}' AND (num_parameters > 1e9 OR tags IN ('prod')) AND metrics.f1 >= {m}"}
                               for f in FRAMEWORKS for m in ("0.9", "0.8")]),
    ("text + filter", [{"query": w, "filter": "test_accuracy >= 0.7 AND tags != 'deprecated'"} for w in WORDS]),
    ("sorted by metric", [{"order_by": f"metrics.{m} {d}"} for m in ("f1", "auc", "accuracy", "f1") for d in ("desc", "asc")]),
    ("filter sorted by metric", [{"filter": f"framework = '{f}'", "order_by": f"metrics.f1 {d}"} for f in FRAMEWORKS for d in ("desc", "asc")]),
    ("list newest first", [{"order_by": "created_at desc", "skip": str(s)} for s in (0, 20, 40, 60, 80, 100, 120, 140)]),
    ("deep page: skip 5000", [{"skip": str(5000 + 20 * i)} for i in range(8)]),
    ("deep page: cursor", None),  # filled by walking cursors
    ("admin scope=all text", [{"query": w, "scope": "all"} for w in WORDS]),
]


def percentiles(samples):
    samples = sorted(samples)
    pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] * 1000
    return round(pick(0.5), 2), round(pick(0.99), 2)


def warehouse(port, token, rounds):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}"}

    def get(params, user="team"):
        path = ("/ai-models/search/" if "query" in params or params.get("scope") else "/ai-models/") + user
        params = {**params, "limit": str(PAGE)}
        conn.request("GET", path + "?" + urllib.parse.urlencode(params), headers=headers)
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200, (response.status, body[:300])
        return json.loads(body), response.getheader("X-Total-Count"), response.getheader("X-Next-Cursor")

    # Cursors 250 pages (5,000 rows) deep into the default listing, for the cursor shape.
    cursors, cursor = [], None
    for page in range(258):
        _, _, cursor = get({"cursor": cursor} if cursor else {})
        if page >= 250:
            cursors.append({"cursor": cursor})
    def call(params):
        def run():
            rows, total, _ = get(params, user="admin" if params.get("scope") else "team")
            return {"rows": len(rows), "total": total}
        return run
    measure([(name, [call(p) for p in (variants if variants is not None else cursors)]) for name, variants in WAREHOUSE_SHAPES],
            rounds)


def measure(shapes, rounds):
    """Runs each shape's calls once to warm up, then `rounds` times round-robin; prints one JSON
    line per shape with p50/p99 and the facts (rows, total) its first call returned."""
    for _, calls in shapes:
        for call in calls:
            call()
    samples = {name: [] for name, _ in shapes}
    facts = {}
    for _ in range(rounds):
        for name, calls in shapes:
            for call in calls:
                start = time.perf_counter()
                result = call()
                samples[name].append(time.perf_counter() - start)
                facts.setdefault(name, result)
    for name, _ in shapes:
        p50, p99 = percentiles(samples[name])
        print(json.dumps({"shape": name, "p50_ms": p50, "p99_ms": p99, "n": len(samples[name]), **facts[name]}))


def mlflow_shapes(client):
    """The closest MLflow registry call for each shape (see BENCHMARKS.md for what differs)."""
    words = [w.split()[0] for w in WORDS]
    deep = []

    def walk():
        token = None
        for page in range(258):
            result = client.search_model_versions(max_results=PAGE, page_token=token, order_by=["name ASC"])
            token = result.token
            if page >= 250:
                deep.append(token)
    walk()
    return [
        ("text only", [lambda w=w: client.search_registered_models(f"name LIKE '%{w}%'", max_results=PAGE) for w in words]),
        ("filter only", [lambda f=f: client.search_registered_models(f"tags.framework = '{f}'", max_results=PAGE)
                         for f in FRAMEWORKS for _ in (0, 1)]),
        ("text + filter", [lambda w=w: client.search_model_versions(f"name LIKE '%{w}%' AND tags.framework = 'pytorch'",
                                                                    max_results=PAGE) for w in words]),
        ("list newest first", [lambda: client.search_registered_models(max_results=PAGE, order_by=["last_updated_timestamp DESC"])] * 8),
        ("deep page: cursor", [lambda t=t: client.search_model_versions(max_results=PAGE, page_token=t, order_by=["name ASC"])
                               for t in deep]),
    ]


def mlflow(database, rounds):
    import mlflow as _mlflow
    from mlflow.tracking import MlflowClient
    uri = f"sqlite:///{database}"
    _mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    measure([(name, [lambda call=call: {"rows": len(call())} for call in calls]) for name, calls in mlflow_shapes(client)], rounds)


if __name__ == "__main__":
    if sys.argv[1] == "warehouse":
        warehouse(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    else:
        mlflow(sys.argv[2], int(sys.argv[3]))
