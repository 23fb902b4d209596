#!/usr/bin/env python3
"""ONNX parity check for a trained Model Warehouse version.

  onnx_parity.py rows DATASET.csv OUT.csv [--limit N]
      Writes the first N rows of the dataset, then rows with one column blanked (missing)
      and rows with one column set to a value never seen in training.
  onnx_parity.py compare MODEL.onnx ROWS.csv PREDICT.json
      Checks the model with onnx.checker, runs it in onnxruntime on ROWS.csv (inputs built
      from the raw text the way the ONNX metadata describes them), and compares with the
      answer /predict gave for the same rows. Prints one JSON line; exits 1 on a mismatch.
"""
import csv
import json
import math
import re
import sys

MISSING = {"", "na", "n/a", "nan", "null", "none", "?", "nil", "-nan", "#n/a"}
TRUE = {"true", "yes", "t", "y", "1"}
FALSE = {"false", "no", "f", "n", "0"}
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
UNSEEN = "zz-never-seen-in-training"


def write_rows(dataset, out, limit):
    with open(dataset, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    header, data = rows[0], rows[1:]
    chosen = data[:limit]
    for i, row in enumerate(data[:2 * len(header)]):
        column = i % len(header)
        blank, odd = list(row), list(row)
        blank[column] = ""
        odd[column] = UNSEEN
        chosen += [blank, odd]
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(chosen)
    print(json.dumps({"rows": len(chosen)}))


def number(text, kind):
    value = text.strip()
    if value.lower() in MISSING:
        return math.nan
    if kind == "boolean":
        return 1.0 if value.lower() in TRUE else 0.0 if value.lower() in FALSE else math.nan
    if kind == "datetime":
        raise SystemExit("datetime inputs are not covered by this check")
    return float(value) if NUMBER.fullmatch(value) else math.nan


def feeds(model, rows):
    """onnxruntime inputs for CSV rows (dicts of raw text), as the model's metadata describes them."""
    import numpy as np
    inputs = json.loads({p.key: p.value for p in model.metadata_props}["inputs"])
    result = {}
    for spec in inputs:
        texts = [row[spec["column"]] for row in rows]
        if spec["kind"] == "categorical":
            result[spec["name"]] = np.array([[t.strip()] for t in texts], dtype=object)
        else:
            result[spec["name"]] = np.array([[number(t, spec["type"])] for t in texts], dtype=np.float32)
    return result


def compare(model_path, rows_path, predict_path):
    import numpy as np
    import onnx
    import onnxruntime as ort

    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    with open(rows_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))

    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    outputs = dict(zip(names, session.run(None, feeds(model, rows))))
    with open(predict_path, encoding="utf-8") as f:
        answer = json.load(f)

    report = {"rows": len(rows), "outputs": names, "opsets": {o.domain or "ai.onnx": o.version for o in model.opset_import}}
    failures = []

    def relative(ours, theirs):
        ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
        if ours.shape != theirs.shape:
            failures.append(f"shape {ours.shape} vs {theirs.shape}")
            return math.inf
        # Values below float32's normal range (1.2e-38) cannot keep 1e-5 in float32.
        error = np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-37)
        return float(error.max()) if error.size else 0.0

    if "label" in outputs:
        labels = [x.decode() if isinstance(x, bytes) else x for x in outputs["label"].tolist()]
        expected = answer["predictions"]
        same = sum(1 for a, b in zip(labels, expected) if a == b)
        report["label_agreement"] = same / len(expected)
        report["label_type"] = str(outputs["label"].dtype)
        if len(labels) != len(expected) or report["label_agreement"] < 0.999:
            failures.append(f"labels agree on {same} of {len(expected)} rows")
        report["max_relative_error"] = relative(outputs["probabilities"], answer["probabilities"])
    else:
        report["max_relative_error"] = relative(outputs["variable"][:, 0], answer["predictions"])
    if report["max_relative_error"] > 1e-5:
        failures.append(f"largest relative difference {report['max_relative_error']:.3g} > 1e-5")
    report["failures"] = failures
    print(json.dumps(report))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "rows":
        limit = int(sys.argv[sys.argv.index("--limit") + 1]) if "--limit" in sys.argv else 2000
        write_rows(sys.argv[2], sys.argv[3], limit)
    elif len(sys.argv) == 5 and sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        raise SystemExit(__doc__)
