"""Drives the stock mlflow client against a warehouse as a user would: MLFLOW_TRACKING_URI and
MLFLOW_TRACKING_TOKEN come from the environment.
Usage: mlflow_client.py SCENARIO [ARGS...]; prints "ok SCENARIO" when every check held."""
import hashlib
import json
import os
import sys
import tempfile
import urllib.request

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException

client = MlflowClient()


def expect(condition, what):
    if not condition:
        raise AssertionError(what)


def error_code(call):
    try:
        call()
    except (MlflowException, RestException) as error:
        return error.error_code
    raise AssertionError(f"expected an MLflow error from {call}")


def iris():
    from sklearn.datasets import load_iris
    return load_iris(return_X_y=True, as_frame=True)


def registry(user):
    """Every registry call of MlflowClient, and its errors."""
    created = client.create_registered_model("fraud", tags={"team": "risk"}, description="first try")
    expect(created.name == "fraud" and created.description == "first try" and created.tags == {"team": "risk"}, f"create: {created}")
    expect(error_code(lambda: client.create_registered_model("fraud")) == "RESOURCE_ALREADY_EXISTS", "a duplicate name")
    expect(error_code(lambda: client.get_registered_model("nope")) == "RESOURCE_DOES_NOT_EXIST", "a missing model")
    expect(error_code(lambda: client.create_registered_model("bad name!")) == "INVALID_PARAMETER_VALUE", "a name the warehouse refuses")
    client.create_registered_model("fraud-b")
    client.create_registered_model("other")

    # Search: the client adds its prompt clause; LIKE, ILIKE, tags with backticks, AND, order, pages.
    names = [m.name for m in client.search_registered_models()]
    expect(names == ["fraud", "fraud-b", "other"], f"search all: {names}")
    expect([m.name for m in client.search_registered_models("name LIKE 'fraud%'")] == ["fraud", "fraud-b"], "LIKE")
    expect([m.name for m in client.search_registered_models("name ILIKE 'FRAUD-%'")] == ["fraud-b"], "ILIKE")
    expect([m.name for m in client.search_registered_models("tags.`team` = 'risk'")] == ["fraud"], "a backticked tag")
    expect([m.name for m in client.search_registered_models("name LIKE 'fraud%' AND tag.team != 'x'")] == ["fraud"],
           "AND with a tag missing elsewhere")
    expect([m.name for m in client.search_registered_models(order_by=["name DESC"])] == ["other", "fraud-b", "fraud"], "order_by")
    page = client.search_registered_models(max_results=2)
    expect(len(page) == 2 and page.token, f"a first page: {page}")
    rest = client.search_registered_models(max_results=2, page_token=page.token)
    expect([m.name for m in rest] == ["other"] and not rest.token, f"the last page: {rest}, {rest.token!r}")
    expect(len(mlflow.search_registered_models()) == 3, "the fluent search ends on the last page")
    expect(error_code(lambda: client.search_registered_models("name = 'x' OR name = 'y'")) == "INVALID_PARAMETER_VALUE", "OR")
    expect(error_code(lambda: client.search_registered_models(max_results=5000)) == "INVALID_PARAMETER_VALUE", "max_results")

    client.update_registered_model("fraud", description="second")
    expect(client.get_registered_model("fraud").description == "second", "update")
    client.set_registered_model_tag("fraud", "stage", "beta")
    client.delete_registered_model_tag("fraud", "team")
    client.delete_registered_model_tag("fraud", "never-set")
    expect(client.get_registered_model("fraud").tags == {"stage": "beta"}, "model tags")

    # Versions come from log_model (below) or another version's source.
    from sklearn.linear_model import LogisticRegression
    X, y = iris()
    info = mlflow.sklearn.log_model(LogisticRegression(max_iter=300).fit(X, y), name="model", registered_model_name="fraud")
    expect(str(info.registered_model_version) == "1", f"the first version: {info.registered_model_version}")
    version = client.get_model_version("fraud", "1")
    expect(version.version == "1" and version.status == "READY" and version.run_id is None, f"get version: {version}")
    copy = client.create_model_version("fraud-b", "models:/fraud/1", tags={"origin": "copy"}, description="copied")
    expect(copy.version == "1" and copy.tags == {"origin": "copy"} and copy.description == "copied", f"a copy: {copy}")
    second = client.create_model_version("fraud", "models:/fraud/1")
    expect(second.version == "2", "the next number")
    expect(error_code(lambda: client.get_model_version("fraud", "9")) == "RESOURCE_DOES_NOT_EXIST", "a missing version")
    expect(error_code(lambda: client.get_model_version("fraud", "one")) == "INVALID_PARAMETER_VALUE", "a version that is no number")

    client.update_model_version("fraud", "2", description="the better one")
    client.set_model_version_tag("fraud", "2", "validated", "yes")
    client.set_model_version_tag("fraud", "1", "validated", "no")
    client.delete_model_version_tag("fraud", "1", "validated")
    expect(client.get_model_version("fraud", "2").description == "the better one", "update version")
    found = client.search_model_versions("name = 'fraud' AND tag.validated = 'yes'")
    expect([v.version for v in found] == ["2"], f"search versions by tag: {found}")
    found = client.search_model_versions("name IN ('fraud', 'fraud-b') AND version_number >= 1")
    expect([(v.name, v.version) for v in found] == [("fraud", "2"), ("fraud", "1"), ("fraud-b", "1")], f"default order: {found}")
    expect(len(mlflow.search_model_versions()) == 3, "the fluent version search ends on the last page")

    client.set_registered_model_alias("fraud", "production", "1")
    expect(client.get_model_version_by_alias("fraud", "production").version == "1", "alias")
    expect(client.get_registered_model("fraud").aliases == {"production": "1"}, "aliases on the model")
    expect(error_code(lambda: client.get_model_version_by_alias("fraud", "nope")) == "INVALID_PARAMETER_VALUE", "a missing alias")
    expect(error_code(lambda: client.set_registered_model_alias("fraud", "latest", "1")) == "INVALID_PARAMETER_VALUE", "latest is reserved")
    client.delete_registered_model_alias("fraud", "production")
    expect(client.get_registered_model("fraud").aliases == {}, "alias deleted")
    latest = client.get_latest_versions("fraud")
    expect([v.version for v in latest] == ["2"], f"latest: {latest}")
    uri = client.get_model_version_download_uri("fraud", "2")
    expect(uri == f"mlflow-artifacts:/registry/{user}/fraud/v2", f"download uri: {uri}")
    error = None
    try:
        client.transition_model_version_stage("fraud", "1", "Production")
    except MlflowException as e:
        error = e
    expect(error is not None and error.error_code == "INVALID_PARAMETER_VALUE" and "alias" in error.message, f"stages: {error}")

    expect(error_code(lambda: mlflow.register_model(tempfile.mkdtemp(), "fraud")) == "INVALID_PARAMETER_VALUE", "a local path")
    client.delete_model_version("fraud", "2")
    expect([v.version for v in client.search_model_versions("name='fraud'")] == ["1"], "a deleted version")

    client.rename_registered_model("fraud-b", "fraud-c")
    expect(error_code(lambda: client.get_registered_model("fraud-b")) == "RESOURCE_DOES_NOT_EXIST", "the old name is gone")
    renamed = client.get_model_version("fraud-c", "1")
    expect(renamed.tags == {"origin": "copy"}, f"a renamed version keeps its tags: {renamed}")
    expect(error_code(lambda: client.rename_registered_model("fraud-c", "fraud")) == "RESOURCE_ALREADY_EXISTS", "rename onto a model")
    client.delete_registered_model("fraud-c")
    expect([m.name for m in client.search_registered_models()] == ["fraud", "other"], "a deleted model")


def logged(user):
    """sklearn.log_model with and without a run, then models:/ URIs load what was logged."""
    from sklearn.linear_model import LogisticRegression
    X, y = iris()
    estimator = LogisticRegression(max_iter=300).fit(X, y)
    info = mlflow.sklearn.log_model(estimator, name="model", registered_model_name="m", input_example=X.head(2))
    expect(str(info.registered_model_version) == "1", "version 1")
    loaded = mlflow.pyfunc.load_model("models:/m/1")
    expect((np.asarray(loaded.predict(X)) == estimator.predict(X)).all(), "the loaded model predicts as the original")
    with mlflow.start_run():
        mlflow.log_param("max_iter", 300)
        mlflow.log_metric("accuracy", 0.97)
        info = mlflow.sklearn.log_model(estimator, name="model", registered_model_name="m")
    expect(str(info.registered_model_version) == "2", "version 2 from a run")
    # The MLflow 2 way: register what a run logged by its runs:/ URI.
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(estimator, name="model")
    by_run = mlflow.register_model(f"runs:/{run.info.run_id}/model", "from-run")
    expect(by_run.version == "1", f"runs:/ registered: {by_run}")
    expect((mlflow.sklearn.load_model("models:/from-run/1").predict(X) == estimator.predict(X)).all(), "runs:/ loads")
    found = client.search_model_versions("name = 'm' AND metrics.accuracy > 0.9")
    expect([v.version for v in found] == ["2"], f"metrics filter: {found}")
    client.set_registered_model_alias("m", "champion", "2")
    for uri in ["models:/m@champion", "models:/m/latest", "models:/m/2"]:
        expect((mlflow.sklearn.load_model(uri).predict(X) == estimator.predict(X)).all(), uri)
    local = mlflow.artifacts.download_artifacts("models:/m/1")
    expect({"MLmodel", "input_example.json"} <= set(os.listdir(local)), f"download: {os.listdir(local)}")


def trained(user, model):
    """A model the warehouse trained loads by alias and predicts what /predict predicts."""
    frame = pd.read_csv(os.environ["DATASET"])
    frame = frame.drop(columns=[os.environ["TARGET"]]).head(200)
    loaded = mlflow.pyfunc.load_model(f"models:/{model}@production")
    out = loaded.predict(frame)
    rows = json.loads(frame.to_json(orient="records"))
    request = urllib.request.Request(f"{os.environ['MLFLOW_TRACKING_URI']}/ai-models/{user}/{model}/predict",
                                     data=json.dumps({"rows": rows}).encode(),
                                     headers={"Authorization": "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"],
                                              "Content-Type": "application/json"})
    answer = json.load(urllib.request.urlopen(request))
    if "probabilities" in answer:
        expect([str(p) for p in answer["predictions"]] == [str(p) for p in np.asarray(out["label"]).ravel()], "labels")
        difference = np.abs(np.asarray(answer["probabilities"]) - np.asarray(out["probabilities"])).max()
    else:
        difference = np.abs(np.asarray(answer["predictions"]) - np.asarray(out["variable"]).ravel()).max()
    expect(difference <= 1e-5, f"probabilities differ by {difference}")
    latest = mlflow.pyfunc.load_model(f"models:/{model}/latest")
    expect(latest.metadata.flavors["onnx"]["data"] == "model.onnx", "the onnx flavor")


def make_onnx(path):
    """An ONNX graph written with the onnx package: y = 2x + 1 over a float tensor [N, 3]."""
    import onnx
    from onnx import TensorProto, helper
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["doubled"]), helper.make_node("Add", ["doubled", "one"], ["y"])],
        "affine",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor("two", TensorProto.FLOAT, [1], [2.0]), helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="onnx-helper")
    model.ir_version = 8
    onnx.save(model, path)


def uploaded(user, model):
    """An ONNX file uploaded through the warehouse's own API loads as a pyfunc model."""
    loaded = mlflow.pyfunc.load_model(f"models:/{model}/1")
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    out = loaded.predict(x)
    out = out["y"] if isinstance(out, dict) else np.asarray(out)
    expect(np.allclose(np.asarray(out), 2 * x + 1), f"predictions: {out}")
    expect(loaded.metadata.flavors["onnx"]["data"] == "affine.onnx", f"flavor: {loaded.metadata.flavors}")


def make_pickle(path):
    """A scikit-learn model pickled with the standard library, as many users keep them."""
    import pickle
    from sklearn.linear_model import LogisticRegression
    X, y = iris()
    with open(path, "wb") as f:
        pickle.dump(LogisticRegression(max_iter=300).fit(X.values, y.values), f)


def pickled(user, model):
    """A pickle uploaded through the warehouse's API gets the sklearn flavor and predicts."""
    import pickle
    X, y = iris()
    loaded = mlflow.pyfunc.load_model(f"models:/{model}/1")
    expect(loaded.metadata.flavors["sklearn"]["pickled_model"] == "model.pkl", f"flavor: {loaded.metadata.flavors}")
    original = pickle.load(open(os.environ["PICKLE"], "rb"))
    expect((np.asarray(loaded.predict(X.values)) == original.predict(X.values)).all(), "predictions")
    expect((mlflow.sklearn.load_model(f"models:/{model}/1").predict(X.values) == original.predict(X.values)).all(), "sklearn flavor")


def foreign(owner, model):
    """Another user's model: by its plain name it is missing, by owner~model refused."""
    expect(error_code(lambda: client.get_registered_model(model)) == "RESOURCE_DOES_NOT_EXIST", "plain name")
    expect(error_code(lambda: client.get_registered_model(f"{owner}~{model}")) == "PERMISSION_DENIED", "owner~model")
    expect(error_code(lambda: mlflow.pyfunc.load_model(f"models:/{owner}~{model}/1")) == "PERMISSION_DENIED", "load")
    expect(error_code(lambda: client.create_model_version("mine", f"mlflow-artifacts:/registry/{owner}/{model}/v1"))
           in ("PERMISSION_DENIED", "RESOURCE_DOES_NOT_EXIST"), "another user's artifacts as a source")
    expect(all(m.name != model for m in client.search_registered_models()), "not listed")


def admin(owner, model):
    """The admin names every model owner~model."""
    expect(client.get_registered_model(f"{owner}~{model}").name == f"{owner}~{model}", "admin get")
    expect(f"{owner}~{model}" in [m.name for m in client.search_registered_models()], "admin search")


def large(user):
    """A file above the multipart threshold goes up in parts (straight to the bucket on S3)."""
    root = tempfile.mkdtemp()
    blob = os.path.join(root, "blob.bin")
    with open(blob, "wb") as f:
        for i in range(12):
            f.write(hashlib.sha256(str(i).encode()).digest() * (1 << 15))
    digest = hashlib.sha256(open(blob, "rb").read()).hexdigest()

    class Echo(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input):
            return model_input

    info = mlflow.pyfunc.log_model(name="model", python_model=Echo(), artifacts={"blob": blob}, registered_model_name="big")
    local = mlflow.artifacts.download_artifacts(f"models:/big/{info.registered_model_version}")
    found = [os.path.join(d, f) for d, _, fs in os.walk(local) for f in fs if f == "blob.bin"]
    expect(len(found) == 1, f"the blob is in the version: {found}")
    expect(hashlib.sha256(open(found[0], "rb").read()).hexdigest() == digest, "the blob's bytes")


if __name__ == "__main__":
    scenario, arguments = sys.argv[1], sys.argv[2:]
    if scenario in ("make_onnx", "make_pickle"):
        globals()[scenario](*arguments)
        sys.exit(0)
    globals()[scenario](*arguments)
    print("ok", scenario)
