#!/usr/bin/env python3
"""Checkpoints as the frameworks write them, for the warehouse's detection tests.

    make_checkpoints.py OUT_DIR   → OUT_DIR/… and OUT_DIR/checkpoints.json

Run with the test peers' Python (torch, safetensors, keras on torch, transformers, onnx,
gguf, joblib with scikit-learn). Each entry says how to upload it ("single" file, or "folder"
as a ZIP of a directory) and what the record must say; expected parameter counts come from
the frameworks themselves (numel, count_params, num_parameters), never from our parser.
"""
import json
import os
import shutil
import sys
import zipfile

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
import numpy
import torch

out = os.path.abspath(sys.argv[1])
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
entries = []


def add(name, made_by, path, upload, format, framework, num_parameters=None, **custom):
    entries.append({"name": name, "producer": made_by, "path": path, "upload": upload, "format": format,
                    "framework": framework, "num_parameters": num_parameters, "custom": custom})


def folder_zip(directory):
    target = directory.rstrip("/") + ".zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, _, files in os.walk(directory):
            for file in sorted(files):
                full = os.path.join(root, file)
                archive.write(full, os.path.relpath(full, directory))
    return target


torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
state = net.state_dict()
numel = sum(tensor.numel() for tensor in state.values())

# torch.save, the zip format (default since 1.6) and the legacy pickle, under every name.
for suffix in ["pt", "pth", "ckpt", "bin", ""]:
    name = "model" + ("." + suffix if suffix else "")
    torch.save(state, os.path.join(out, "zip-" + name))
    add("torch-zip-" + (suffix or "noext"), f"torch.save (zip) as {name or 'model'}", os.path.join(out, "zip-" + name),
        "single", "pytorch", "pytorch", numel, tensor_elements=numel)
    torch.save(state, os.path.join(out, "legacy-" + name), _use_new_zipfile_serialization=False)
    add("torch-legacy-" + (suffix or "noext"), f"torch.save (legacy pickle) as {name or 'model'}",
        os.path.join(out, "legacy-" + name), "single", "pytorch-legacy", "pytorch", numel)

# One storage of 640 elements: the raw data after the pickles starts with 80 02, which looks
# like a pickle's PROTO 2 (where the storages fall otherwise depends on memory addresses).
torch.save({"embedding": torch.zeros(640)}, os.path.join(out, "legacy-one-storage.pt"), _use_new_zipfile_serialization=False)
add("torch-legacy-one-storage", "torch.save (legacy pickle) of one 640-element tensor",
    os.path.join(out, "legacy-one-storage.pt"), "single", "pytorch-legacy", "pytorch", 640)

# A PyTorch Lightning checkpoint: torch.save of Lightning's dict, named model.ckpt.
lightning = {"epoch": 3, "global_step": 120, "pytorch-lightning_version": "2.4.0", "state_dict": state,
             "optimizer_states": [torch.optim.Adam(net.parameters()).state_dict()], "lr_schedulers": [],
             "hyper_parameters": {"hidden": 8, "lr": 0.001}}
os.makedirs(os.path.join(out, "lightning"))
torch.save(lightning, os.path.join(out, "lightning", "model.ckpt"))
# Optimizer state beside the weights: its tensors are counted, but not called parameters.
add("lightning-ckpt", "PyTorch Lightning checkpoint (torch.save) as model.ckpt", os.path.join(out, "lightning", "model.ckpt"),
    "single", "pytorch", "pytorch", None, tensor_elements=numel)

# safetensors, sharded with an index, as transformers writes large checkpoints.
from safetensors.torch import save_file
shards = os.path.join(out, "sharded")
os.makedirs(shards)
tensors = {f"layer.{i}.weight": torch.randn(32, 16) for i in range(4)}
tensors["head.bias"] = torch.zeros(10, dtype=torch.float16)
names = sorted(tensors)
weight_map = {}
for index, part in enumerate([names[:3], names[3:]]):
    file = f"model-{index + 1:05d}-of-00002.safetensors"
    save_file({key: tensors[key] for key in part}, os.path.join(shards, file))
    weight_map.update({key: file for key in part})
total = sum(tensor.numel() for tensor in tensors.values())
with open(os.path.join(shards, "model.safetensors.index.json"), "w") as handle:
    json.dump({"metadata": {"total_size": sum(t.numel() * t.element_size() for t in tensors.values())}, "weight_map": weight_map}, handle)
with open(os.path.join(shards, "config.json"), "w") as handle:
    json.dump({"architectures": ["TinyModel"], "model_type": "tiny"}, handle)
add("safetensors-sharded", "safetensors shards + model.safetensors.index.json", folder_zip(shards), "folder",
    "safetensors", "huggingface", total)
save_file({"w": torch.randn(5, 7)}, os.path.join(out, "single.safetensors"))
add("safetensors-file", "safetensors.torch.save_file", os.path.join(out, "single.safetensors"), "single",
    "safetensors", "huggingface", 35)

# transformers save_pretrained: config.json + model.safetensors (+ generation config).
from transformers import BertConfig, BertModel
bert = BertModel(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=32, max_position_embeddings=32))
pretrained = os.path.join(out, "pretrained")
bert.save_pretrained(pretrained)
add("save-pretrained", "transformers save_pretrained (BertModel)", folder_zip(pretrained), "folder", "safetensors",
    "huggingface", sum(tensor.numel() for tensor in bert.state_dict().values()), hf_model_type="bert",
    architectures=["BertModel"])

# Keras 3 .keras (a ZIP of config.json, metadata.json, model.weights.h5).
import keras
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])
model.save(os.path.join(out, "model.keras"))
add("keras-v3", f"Keras {keras.__version__} model.save('model.keras')", os.path.join(out, "model.keras"), "single",
    "keras", "keras", None, keras_version=keras.__version__)

# ONNX with its weights in an external data file.
import onnx
from onnx import TensorProto, helper, numpy_helper
weights = numpy_helper.from_array(numpy.random.rand(64, 32).astype(numpy.float32), "W")
bias = numpy_helper.from_array(numpy.zeros(32, dtype=numpy.float32), "B")
graph = helper.make_graph([helper.make_node("Gemm", ["X", "W", "B"], ["Y"])], "external",
                          [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 64])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", 32])], [weights, bias])
external = os.path.join(out, "onnx-external")
os.makedirs(external)
onnx.save_model(helper.make_model(graph, producer_name="onnx-test-peer", opset_imports=[helper.make_opsetid("", 17)]),
                os.path.join(external, "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                location="model.onnx.data", size_threshold=0)
add("onnx-external-data", "onnx.save_model(save_as_external_data=True)", folder_zip(external), "folder", "onnx", "onnx",
    64 * 32 + 32, producer="onnx-test-peer")

# GGUF, written by llama.cpp's gguf package.
import gguf
writer = gguf.GGUFWriter(os.path.join(out, "model.gguf"), "llama")
writer.add_name("tiny-llama")
writer.add_context_length(256)
writer.add_tensor("token_embd.weight", numpy.random.rand(16, 8).astype(numpy.float32))
writer.add_tensor("output.weight", numpy.random.rand(8, 16).astype(numpy.float32))
writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_tensors_to_file()
writer.close()
add("gguf", f"gguf {gguf.__version__ if hasattr(gguf, '__version__') else ''} GGUFWriter".replace("  ", " "),
    os.path.join(out, "model.gguf"), "single", "gguf", "other", 256, architecture="llama", model_name="tiny-llama")

# joblib, plain and compressed, of a fitted scikit-learn model.
import joblib
from sklearn.linear_model import LogisticRegression
classifier = LogisticRegression().fit(numpy.random.rand(30, 4), numpy.arange(30) % 2)
joblib.dump(classifier, os.path.join(out, "model.joblib"))
add("joblib", "joblib.dump (uncompressed; numpy arrays as raw bytes in the stream)", os.path.join(out, "model.joblib"),
    "single", "joblib", "sklearn", top_level_class="sklearn.linear_model._logistic.LogisticRegression", pickle_safety="safe")
# What follows an array is scanned too: an import after it still makes the file unsafe.
joblib.dump({"weights": numpy.ones(5000), "hook": os.system}, os.path.join(out, "unsafe.joblib"))
add("joblib-unsafe", "joblib.dump of arrays followed by os.system", os.path.join(out, "unsafe.joblib"), "single",
    "joblib", "sklearn", pickle_safety="unsafe")
for method in ["zlib", "gzip", "bz2", "lzma", "xz"]:
    path = os.path.join(out, f"model-{method}.joblib")
    joblib.dump(classifier, path, compress=(method, 3))
    add("joblib-" + method, f"joblib.dump(compress=('{method}', 3))", path, "single", "joblib", "sklearn")

with open(os.path.join(out, "checkpoints.json"), "w") as handle:
    json.dump(entries, handle, indent=1)
print(len(entries))
