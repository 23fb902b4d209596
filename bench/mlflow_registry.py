"""Registry round trips with the stock mlflow client: CLIENTS processes, each registering
ROUNDS versions of its own model (mlflow.register_model of models:/<seed>/1, which the server
turns into a version), then get_model_version and search_model_versions on it.
Usage: mlflow_registry.py SEED_MODEL CLIENTS ROUNDS; MLFLOW_TRACKING_URI/TOKEN from the
environment. Prints one JSON line: calls, seconds, calls per second, p50/p90 per call kind."""
import json
import multiprocessing
import sys
import time


def client(index, seed, rounds, barrier, results):
    import mlflow
    from mlflow import MlflowClient
    api = MlflowClient()
    name = f"bench-{index}-{int(time.time() * 1000)}"
    api.create_registered_model(name)
    timings = {"register_model": [], "get_model_version": [], "search_model_versions": []}
    barrier.wait()  # every client imported mlflow and is ready: the clock starts
    began = time.time()
    for _ in range(rounds):
        start = time.perf_counter()
        version = mlflow.register_model(f"models:/{seed}/1", name)
        middle = time.perf_counter()
        got = api.get_model_version(name, version.version)
        after = time.perf_counter()
        found = api.search_model_versions(f"name = '{name}'", max_results=10)
        end = time.perf_counter()
        assert got.version == version.version and found and found[0].version == version.version, (got, found)
        timings["register_model"].append(middle - start)
        timings["get_model_version"].append(after - middle)
        timings["search_model_versions"].append(end - after)
    results.put((began, time.time(), timings))


def run_clients(target, arguments, clients):
    """Runs `target(index, *arguments, barrier, results)` in CLIENTS processes that start their
    rounds together; prints calls per second over the rounds' window and p50/p90 per call kind."""
    barrier = multiprocessing.Barrier(clients)
    results = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=target, args=(index, *arguments, barrier, results)) for index in range(clients)]
    for process in processes:
        process.start()
    finished = [results.get() for _ in processes]
    for process in processes:
        process.join()
    seconds = max(end for _, end, _ in finished) - min(begin for begin, _, _ in finished)
    merged = {kind: sorted(t for _, _, result in finished for t in result[kind]) for kind in finished[0][2]}
    calls = sum(len(v) for v in merged.values())
    print(json.dumps({
        "calls": calls, "seconds": round(seconds, 2), "calls_per_second": round(calls / seconds, 1),
        **{f"{kind}_p50_ms": round(1000 * v[len(v) // 2], 1) for kind, v in merged.items()},
        **{f"{kind}_p90_ms": round(1000 * v[int(len(v) * 0.9)], 1) for kind, v in merged.items()},
    }))


if __name__ == "__main__":
    seed, clients, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    run_clients(client, (seed, rounds), clients)
