"""The same registry round trips as mlflow_registry.py, replayed as the HTTP requests the
mlflow client sends for them (register_model: registered-models/create, then model-versions/get
of the source, then model-versions/create; get_model_version; search_model_versions), from a
thin keep-alive HTTP client: what the server itself sustains, without the client library's CPU.
Usage: mlflow_wire.py HOST:PORT SEED_MODEL CLIENTS ROUNDS; MLFLOW_TRACKING_TOKEN from the
environment (none for a server without auth). Prints one JSON line like mlflow_registry.py."""
import http.client
import json
import os
import sys
import time
import urllib.parse

from mlflow_registry import run_clients


def client(index, address, seed, rounds, barrier, results):
    connection = http.client.HTTPConnection(address)
    headers = {"Content-Type": "application/json"}
    if os.environ.get("MLFLOW_TRACKING_TOKEN"):
        headers["Authorization"] = "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"]

    def call(method, path, body=None, query=None, ok=(200,)):
        url = "/api/2.0/mlflow/" + path + ("?" + urllib.parse.urlencode(query) if query else "")
        connection.request(method, url, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        data = response.read()
        assert response.status in ok, (path, response.status, data[:300])
        return json.loads(data) if data else {}

    name = f"wire-{index}-{int(time.time() * 1000)}"
    call("POST", "registered-models/create", {"name": name})
    timings = {"register_model": [], "get_model_version": [], "search_model_versions": []}
    barrier.wait()
    began = time.time()
    for _ in range(rounds):
        start = time.perf_counter()
        call("POST", "registered-models/create", {"name": name}, ok=(400, 409))
        call("GET", "model-versions/get", query={"name": seed, "version": "1"})
        version = call("POST", "model-versions/create", {"name": name, "source": f"models:/{seed}/1"})["model_version"]["version"]
        middle = time.perf_counter()
        got = call("GET", "model-versions/get", query={"name": name, "version": version})["model_version"]
        after = time.perf_counter()
        found = call("GET", "model-versions/search", query={"filter": f"name = '{name}'", "max_results": "10"})["model_versions"]
        end = time.perf_counter()
        assert got["version"] == version and found[0]["version"] == version, (got, found[:1])
        timings["register_model"].append(middle - start)
        timings["get_model_version"].append(after - middle)
        timings["search_model_versions"].append(end - after)
    results.put((began, time.time(), timings))


if __name__ == "__main__":
    address, seed, clients, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    run_clients(client, (address, seed, rounds), clients)
