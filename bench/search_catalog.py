"""The synthetic model catalog of bench/search: one fixed-seed generator, written out as
warehouse manifests (read back by `warehouse reindex`) or loaded into MLflow's registry.

    search_catalog.py manifests DIR --models N --files F [--seed S]
    search_catalog.py mlflow DB --models N [--seed S]            (run with MLflow's python)

Every model is a family (architecture, framework, task) with 1-3 versions; files per version
are the family's usual layout, trimmed or padded so the whole catalog holds exactly F files.
"""
import argparse, hashlib, json, math, os, random, sys, time

TEAM = "team"  # the namespace most queries search; the rest is spread over 50 other users
FAMILIES = [
    # architecture, framework, model_type, parameter range, file layout (path, format, type)
    ("resnet50", "pytorch", "computer_vision", (2e7, 3e7),
     [("model.safetensors", "safetensors"), ("config.json", "json"), ("preprocessor_config.json", "json"), ("README.md", "readme")]),
    ("vit-base", "huggingface", "computer_vision", (8e7, 9e7),
     [("model.safetensors", "safetensors"), ("config.json", "json"), ("preprocessor_config.json", "json"), ("README.md", "readme")]),
    ("yolov8", "pytorch", "computer_vision", (3e6, 7e7),
     [("weights/best.pt", "pytorch"), ("weights/last.pt", "pytorch"), ("args.yaml", None), ("results.csv", None)]),
    ("bert-base", "huggingface", "nlp", (1.1e8, 1.1e8),
     [("model.safetensors", "safetensors"), ("config.json", "json"), ("tokenizer.json", "json"), ("vocab.txt", None),
      ("special_tokens_map.json", "json"), ("README.md", "readme")]),
    ("distilbert", "huggingface", "nlp", (6.6e7, 6.7e7),
     [("model.safetensors", "safetensors"), ("config.json", "json"), ("tokenizer.json", "json"), ("vocab.txt", None)]),
    ("llama", "huggingface", "nlp", (1e9, 7e10),
     [("model-00001-of-00004.safetensors", "safetensors"), ("model-00002-of-00004.safetensors", "safetensors"),
      ("model-00003-of-00004.safetensors", "safetensors"), ("model-00004-of-00004.safetensors", "safetensors"),
      ("config.json", "json"), ("tokenizer.json", "json"), ("generation_config.json", "json"), ("README.md", "readme")]),
    ("whisper", "pytorch", "nlp", (3.9e7, 1.5e9),
     [("pytorch_model.bin", "pytorch"), ("config.json", "json"), ("tokenizer.json", "json")]),
    ("xgboost", "other", "classification", (1e4, 5e6),
     [("model.json", "xgboost"), ("requirements.txt", "requirements"), ("metrics.json", "json")]),
    ("lightgbm", "other", "regression", (1e4, 5e6),
     [("model.txt", "lightgbm"), ("requirements.txt", "requirements"), ("feature_importance.csv", None)]),
    ("random-forest", "sklearn", "classification", (1e3, 1e6),
     [("model.joblib", "joblib"), ("requirements.txt", "requirements"), ("metrics.json", "json")]),
    ("logistic-regression", "sklearn", "classification", (10, 1e4),
     [("model.pkl", "pickle"), ("requirements.txt", "requirements")]),
    ("efficientnet", "tensorflow", "computer_vision", (5e6, 6.6e7),
     [("saved_model.pb", None), ("variables/variables.index", None), ("variables/variables.data-00000-of-00001", None),
      ("keras_metadata.pb", None)]),
    ("lstm-forecaster", "keras", "time_series", (1e5, 5e6),
     [("model.keras", "keras"), ("scaler.pkl", "pickle"), ("config.json", "json")]),
    ("mobilenet", "onnx", "computer_vision", (2e6, 6e6),
     [("model.onnx", "onnx"), ("labels.txt", None)]),
    ("two-tower", "tensorflow", "recommendation", (1e6, 2e8),
     [("model.tflite", "tflite"), ("vocab_users.txt", None), ("vocab_items.txt", None)]),
    ("ppo-agent", "pytorch", "reinforcement_learning", (1e5, 1e7),
     [("policy.pt", "pytorch"), ("value.pt", "pytorch"), ("env_config.json", "json")]),
    ("kmeans", "sklearn", "clustering", (100, 1e5),
     [("model.pkl", "pickle")]),
]
SUBJECTS = ["fraud", "churn", "defect", "sentiment", "invoice", "receipt", "retina", "xray", "traffic", "speech",
            "translation", "summarizer", "ranking", "demand", "price", "spam", "toxicity", "face", "product", "weather",
            "energy", "credit", "claims", "support", "search", "music", "medical", "legal", "retail", "satellite"]
PURPOSES = ["detector", "classifier", "scorer", "forecaster", "tagger", "segmenter", "ranker", "encoder", "model"]
TAGS = ["prod", "staging", "experimental", "baseline", "candidate", "gpu", "cpu", "edge", "quantized", "distilled",
        "finetuned", "pretrained", "pii-free", "reviewed", "deprecated", "eu", "us", "apac", "v2-pipeline", "nightly"]
TEAMS = ["vision", "nlp", "ranking", "risk", "forecasting", "platform", "growth", "health"]
DESCRIPTIONS = [
    "{Arch} {purpose} for {subject} data, trained on the {dataset} snapshot.",
    "Fine-tuned {arch} that flags {subject} cases; owner {owner}.",
    "Baseline {purpose} for the {subject} pipeline. Evaluated on {dataset}.",
    "{Arch} checkpoint exported for serving the {subject} {purpose} on {hardware}.",
    "Retrained weekly from {dataset}; replaces the previous {subject} {purpose}.",
]
HARDWARE = ["cpu", "1x T4", "1x A100", "8x A100", "edge TPU", "Jetson Orin"]


def catalog(models, files_total, seed):
    """Yields (user, model_id, [version records]) for `models` models, `files_total` files."""
    rng = random.Random(seed)
    plan = []
    for index in range(models):
        family = FAMILIES[rng.randrange(len(FAMILIES))]
        versions = rng.choices([1, 2, 3], weights=[55, 30, 15])[0]
        plan.append((family, [len(family[4]) + rng.randint(0, 3) for _ in range(versions)]))
    # Pad or trim (never below one file per version) until the catalog holds exactly files_total.
    count = sum(sum(counts) for _, counts in plan)
    while count != files_total:
        family, counts = plan[rng.randrange(models)]
        position = rng.randrange(len(counts))
        if count < files_total:
            counts[position] += 1; count += 1
        elif counts[position] > 1:
            counts[position] -= 1; count -= 1
    start = time.mktime((2024, 11, 1, 0, 0, 0, 0, 0, 0))
    for index, (family, counts) in enumerate(plan):
        arch, framework, model_type, (low, high), layout = family
        user = TEAM if index < models * 9 // 10 else f"user{index % 50:02d}"
        subject, purpose = rng.choice(SUBJECTS), rng.choice(PURPOSES)
        model_id = f"{arch}-{subject}-{purpose}-{index:06d}"
        owner = f"{rng.choice(['ana', 'bo', 'chen', 'dara', 'eli', 'femi', 'gus', 'hana'])}@example.com"
        team = rng.choice(TEAMS)
        dataset = f"{subject}-{rng.randint(2023, 2026)}q{rng.randint(1, 4)}"
        created = start + rng.uniform(0, 720 * 86400)
        quality = rng.uniform(0.55, 0.97)
        records = []
        for number, file_count in enumerate(counts, start=1):
            created += rng.uniform(3600, 30 * 86400)
            quality = min(0.995, max(0.3, quality + rng.gauss(0.01, 0.03)))
            parameters = int(math.exp(rng.uniform(math.log(low), math.log(high)))) if high > low else int(low)
            words = dict(arch=arch, Arch=arch.capitalize(), purpose=purpose, subject=subject, dataset=dataset,
                         owner=owner, hardware=rng.choice(HARDWARE))
            files = []
            for position in range(file_count):
                if position < len(layout):
                    path, fmt = layout[position]
                else:
                    path, fmt = f"extras/artifact_{position:02d}.json", "json"
                primary = position == 0
                size = int(parameters * rng.choice([2, 4]) / max(1, sum(1 for p, f in layout if f == layout[0][1]))) \
                    if primary else rng.randint(200, 2_000_000)
                files.append({
                    "filename": path.rsplit("/", 1)[-1], "file_path": path, "file_size": max(size, 1),
                    "file_type": path.rsplit(".", 1)[-1] if "." in path else "bin",
                    "file_hash": hashlib.sha256(f"{model_id}/{number}/{path}".encode()).hexdigest(),
                    "content_type": "application/json" if path.endswith(".json") else "application/octet-stream",
                    "is_primary": primary, "description": None, "format": fmt,
                })
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))
            f1 = round(quality - rng.uniform(0, 0.05), 4)
            records.append({
                "model_id": model_id, "user_id": user, "version": f"v{number}",
                "name": f"{arch.capitalize()} {subject} {purpose}",
                "description": rng.choice(DESCRIPTIONS).format(**words),
                "framework": framework, "model_type": model_type, "algorithm": arch,
                "files": files, "primary_file_path": files[0]["file_path"],
                "num_parameters": parameters,
                "training_dataset": dataset,
                "training_accuracy": round(min(1.0, quality + rng.uniform(0, 0.04)), 4),
                "validation_accuracy": round(quality, 4),
                "test_accuracy": round(quality - rng.uniform(0, 0.02), 4),
                "training_loss": round(rng.uniform(0.01, 1.5) * (1 - quality), 4),
                "python_version": rng.choice(["3.10", "3.11", "3.12"]),
                "dependencies": [], "hardware_requirements": words["hardware"],
                "tags": sorted(rng.sample(TAGS, rng.randint(1, 4))),
                "custom_metadata": {
                    "team": team, "owner": owner,
                    "metrics": {"test": {"accuracy": round(quality, 4), "f1": f1,
                                         "auc": round(min(1.0, quality + 0.03), 4)}},
                },
                "created_at": stamp, "updated_at": stamp, "is_active": True, "is_production_ready": False,
            })
        yield user, model_id, records


def write_manifests(directory, models, files, seed):
    root = os.path.join(directory, "objects", "manifests", "models")
    versions = 0
    for user, model_id, records in catalog(models, files, seed):
        folder = os.path.join(root, user, model_id)
        os.makedirs(folder, exist_ok=True)
        for record in records:
            with open(os.path.join(folder, record["version"] + ".json"), "w") as out:
                json.dump(record, out)
            versions += 1
    print(json.dumps({"models": models, "versions": versions, "files": files}))


def load_mlflow(database, models, seed):
    """The same catalog in MLflow's registry (sqlite backend): a registered model per model with
    framework/model_type/team tags, a model version per version with its tags and metrics as tags."""
    import mlflow
    from mlflow.tracking import MlflowClient
    uri = f"sqlite:///{database}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = 0
    for user, model_id, records in catalog(models, models * 10, seed):
        first = records[0]
        client.create_registered_model(model_id, description=first["description"], tags={
            "framework": first["framework"], "model_type": first["model_type"], "team": first["custom_metadata"]["team"],
            "user": user})
        for record in records:
            tags = {"framework": record["framework"], "algorithm": record["algorithm"],
                    "num_parameters": str(record["num_parameters"]),
                    "f1": str(record["custom_metadata"]["metrics"]["test"]["f1"])}
            tags.update({f"tag.{tag}": "true" for tag in record["tags"]})
            client.create_model_version(model_id, source=f"s3://bucket/{user}/{model_id}/{record['version']}",
                                        description=record["description"], tags=tags)
            versions += 1
    print(json.dumps({"models": models, "versions": versions}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["manifests", "mlflow"])
    parser.add_argument("target")
    parser.add_argument("--models", type=int, required=True)
    parser.add_argument("--files", type=int)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if args.what == "manifests":
        write_manifests(args.target, args.models, args.files or args.models * 10, args.seed)
    else:
        load_mlflow(args.target, args.models, args.seed)
