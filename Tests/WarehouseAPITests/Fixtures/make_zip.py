#!/usr/bin/env python3
"""Writes the ZIP archives the folder tests upload: python3 make_zip.py KIND OUT [SOURCE_DIR]

Each KIND is an archive as a real tool makes it, or a hostile one. Archives are generated here,
never checked in.
"""
import io
import os
import subprocess
import sys
import zipfile

kind, out = sys.argv[1], sys.argv[2]
source = sys.argv[3] if len(sys.argv) > 3 else None


def info(name, mode=0o100644, system=3):
    entry = zipfile.ZipInfo(name, date_time=(2024, 1, 2, 3, 4, 6))
    entry.create_system = system
    entry.external_attr = mode << 16
    return entry


def python_zip(entries, compression=zipfile.ZIP_DEFLATED, **options):
    with zipfile.ZipFile(out, "w", compression, **options) as archive:
        for name, data in entries:
            archive.writestr(name if isinstance(name, zipfile.ZipInfo) else info(name), data, compress_type=compression)


HF = [
    ("bert/config.json", b'{"model_type": "bert"}'),
    ("bert/tokenizer.json", b'{"version": "1.0"}'),
    ("bert/model-00001-of-00002.safetensors", os.urandom(300_000)),
    ("bert/model-00002-of-00002.safetensors", os.urandom(200_000)),
    ("bert/model.safetensors.index.json", b'{"weight_map": {}}'),
]

if kind == "zip-cli":
    # Info-ZIP's zip -r of a folder, with directory entries.
    subprocess.run(["zip", "-qr", os.path.abspath(out), "."], cwd=source, check=True)
elif kind == "zip-cli-encrypted":
    subprocess.run(["zip", "-qr", "-P", "secret", os.path.abspath(out), "."], cwd=source, check=True)
elif kind == "python-deflate":
    python_zip(HF)
elif kind == "python-stored":
    python_zip(HF, zipfile.ZIP_STORED)
elif kind == "python-zip64":
    # ZIP64 extra fields and end records forced on small entries.
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for name, data in HF:
            with archive.open(info(name), "w", force_zip64=True) as handle:
                handle.write(data)
elif kind == "data-descriptors":
    # Written to an unseekable stream, zipfile uses data descriptors (flag bit 3).
    class Unseekable(io.RawIOBase):
        def __init__(self, target):
            self.target = target
        def writable(self):
            return True
        def write(self, data):
            return self.target.write(data)
    with open(out, "wb") as target:
        with zipfile.ZipFile(Unseekable(target), "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in HF:
                with archive.open(info(name), "w") as handle:
                    handle.write(data)
elif kind == "unicode":
    python_zip([("modèle/权重.bin", b"weights"), ("modèle/読んで.md", b"readme")])
elif kind == "cp437":
    # A name without the UTF-8 flag in code page 437: "café.bin" has é = 0x82.
    python_zip([("cafX.bin", b"cp437")], zipfile.ZIP_STORED)
    data = open(out, "rb").read().replace(b"cafX.bin", b"caf\x82.bin")
    open(out, "wb").write(data)
elif kind == "finder":
    python_zip([
        ("model/", b""), ("model/weights.pt", b"pt-weights" * 100), ("model/.DS_Store", b"\0\0\0\1Bud1"),
        ("__MACOSX/", b""), ("__MACOSX/model/", b""), ("__MACOSX/model/._weights.pt", b"\0\5\26\7appledouble"),
    ])
elif kind == "windows":
    python_zip([(info("model\\weights.onnx", 0, 0), b"onnx-bytes"), (info("model\\sub\\config.yaml", 0, 0), b"a: 1")])
elif kind == "clash":
    python_zip([("a/config.json", b"1"), ("b/config.json", b"2")])
elif kind == "empty":
    python_zip([])
elif kind == "only-directories":
    python_zip([("a/", b""), ("a/b/", b""), ("__MACOSX/._x", b"meta")])
elif kind == "zip-slip":
    python_zip([("ok.txt", b"fine"), ("../../evil.sh", b"rm -rf /")])
elif kind == "absolute":
    python_zip([("/etc/cron.d/evil", b"* * * * * root evil")])
elif kind == "drive-letter":
    python_zip([(info("C:\\Windows\\evil.dll", 0, 0), b"MZ")])
elif kind == "symlink":
    python_zip([("model.bin", b"w"), (info("link", 0o120777), b"/etc/passwd")])
elif kind == "device":
    python_zip([(info("dev", 0o020644), b"")])
elif kind == "duplicate":
    import warnings
    warnings.simplefilter("ignore")
    python_zip([("model.bin", b"first"), ("model.bin", b"second")])
elif kind == "many-entries":
    python_zip([(f"f{i}.txt", b"x") for i in range(20)])
elif kind == "large-total":
    python_zip([("a.bin", b"a" * 3000), ("b.bin", b"b" * 3000)], zipfile.ZIP_STORED)
elif kind == "bomb":
    # 16 MiB of zeros deflate to about 16 KiB: a ratio just above 1000:1.
    python_zip([("bomb.bin", b"\0" * (16 << 20))], compression=zipfile.ZIP_DEFLATED, compresslevel=9)
elif kind == "corrupt-data":
    # Valid directory, damaged bytes inside the second entry: fails mid-extraction.
    python_zip([("first.bin", os.urandom(2000)), ("second.bin", os.urandom(2000))], zipfile.ZIP_STORED)
    data = bytearray(open(out, "rb").read())
    data[3000] ^= 0xFF
    open(out, "wb").write(bytes(data))
elif kind == "truncated":
    python_zip(HF)
    data = open(out, "rb").read()
    open(out, "wb").write(data[: len(data) // 2])
elif kind == "not-zip":
    open(out, "wb").write(b"this is a pickle, not a zip\n" * 100)
elif kind == "hf-real":
    # A Hugging Face checkout with real safetensors headers: 2 shards, 3 + 2 tensors.
    import json, struct
    def safetensors(tensors):
        header, offset, data = {}, 0, b""
        for name, dtype, shape, width in tensors:
            count = 1
            for dimension in shape:
                count *= dimension
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + count * width]}
            offset += count * width
        encoded = json.dumps(header).encode()
        return struct.pack("<Q", len(encoded)) + encoded + b"\0" * offset
    python_zip([
        ("config.json", json.dumps({"architectures": ["BertForMaskedLM"], "model_type": "bert",
                                    "hidden_size": 32, "num_hidden_layers": 2}).encode()),
        ("model-00001-of-00002.safetensors", safetensors([("a", "F32", [8, 32], 4), ("b", "F32", [32], 4), ("c", "F16", [4, 4], 2)])),
        ("model-00002-of-00002.safetensors", safetensors([("d", "F32", [32, 8], 4), ("e", "F16", [10], 2)])),
        ("tokenizer.json", b'{"version": "1.0"}'),
        ("requirements.txt", b"torch>=2.1\ntransformers==4.41.0  # pinned\n"),
        ("README.md", b"---\nlicense: apache-2.0\n---\n# tiny-bert\n\nA tiny BERT for the warehouse tests.\n"),
    ])
elif kind == "folder-stored":
    # Every file below SOURCE_DIR, stored (the sparse 2 GiB file would otherwise be a "bomb").
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for root, _, names in os.walk(source):
            for name in sorted(names):
                path = os.path.join(root, name)
                archive.write(path, os.path.relpath(path, source))
else:
    sys.exit(f"unknown kind {kind}")
