#!/usr/bin/env python3
"""The interoperability corpus: one model folder archived by every producer users have.

    make_corpus.py OUT_DIR   → OUT_DIR/source/ (the folder), OUT_DIR/*.zip, OUT_DIR/corpus.json

corpus.json lists each archive with what the warehouse must make of it, computed from the
source folder (never from the archive): "files" {relative path: SHA-256} for an archive that
must round-trip, plus "skipped" (macOS metadata left out); or "refused" (a phrase the 400's
detail must hold). The archives are written by the tools themselves: Python's zipfile in
each mode, shutil.make_archive, Info-ZIP zip, bsdtar, 7-Zip, the JDK's jar when installed,
and Python writing the exact entries Java, Windows and macOS Finder archivers write.
"""
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile

out = os.path.abspath(sys.argv[1])
source = os.path.join(out, "source")
shutil.rmtree(out, ignore_errors=True)
os.makedirs(source)

FILES = {
    "config.json": json.dumps({"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 8}).encode(),
    "model.safetensors": None,  # written by safetensors below when installed
    "tokenizer/vocab.txt": "\n".join(["[PAD]", "[UNK]", "hello", "world"] * 200).encode(),
    "tokenizer/special_tokens_map.json": b'{"unk_token": "[UNK]"}',
    "weights/empty.bin": b"",
    "weights/big.bin": os.urandom(3 << 20),
    "notes/mod\u00e8le \u6743\u91cd.md": "# mod\u00e8le\n".encode(),
}
try:
    import numpy
    from safetensors.numpy import save
    FILES["model.safetensors"] = save({"embeddings": numpy.arange(64, dtype=numpy.float32).reshape(8, 8),
                                       "bias": numpy.zeros(8, dtype=numpy.float16)})
except ImportError:
    FILES["model.safetensors"] = b"\x08\x00\x00\x00\x00\x00\x00\x00{}      "
for path, data in FILES.items():
    os.makedirs(os.path.dirname(os.path.join(source, path)) or source, exist_ok=True)
    with open(os.path.join(source, path), "wb") as handle:
        handle.write(data)
EXPECTED = {path: hashlib.sha256(data).hexdigest() for path, data in FILES.items()}
DIRECTORIES = sorted({os.path.dirname(path) for path in FILES if "/" in path})
corpus = []


def archive(name):
    return os.path.join(out, name + ".zip")


def ok(name, producer, prefix="", skipped=()):
    corpus.append({"name": name, "producer": producer, "archive": archive(name),
                   "files": {prefix + path: digest for path, digest in EXPECTED.items()}, "skipped": sorted(skipped)})


def refused(name, producer, because):
    corpus.append({"name": name, "producer": producer, "archive": archive(name), "refused": because})


def run(*command, cwd=source):
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


# Python's zipfile: write() from disk (directory entries too), writestr() in every method.
with zipfile.ZipFile(archive("python-write-deflate"), "w", zipfile.ZIP_DEFLATED) as z:
    for directory in DIRECTORIES:
        z.write(os.path.join(source, directory), directory)
    for path in FILES:
        z.write(os.path.join(source, path), path)
ok("python-write-deflate", "Python zipfile.write, deflate, with directory entries")
for method, label in [(zipfile.ZIP_STORED, "stored"), (zipfile.ZIP_DEFLATED, "deflate"),
                      (zipfile.ZIP_BZIP2, "bzip2"), (zipfile.ZIP_LZMA, "lzma")]:
    with zipfile.ZipFile(archive("python-writestr-" + label), "w", method) as z:
        z.writestr(zipfile.ZipInfo("tokenizer/"), b"")
        for path, data in FILES.items():
            z.writestr(path, data)
    ok("python-writestr-" + label, f"Python zipfile.writestr, {label} (no file-type bits)")
with zipfile.ZipFile(archive("python-zip64"), "w", zipfile.ZIP_DEFLATED, allowZip64=True) as z:
    for path, data in FILES.items():
        with z.open(path, "w", force_zip64=True) as handle:
            handle.write(data)
ok("python-zip64", "Python zipfile, force_zip64=True on every entry")

# shutil.make_archive: what a Python user reaches for first (directory entries, "./"-less).
shutil.make_archive(os.path.join(out, "shutil-make-archive"), "zip", root_dir=source)
ok("shutil-make-archive", "Python shutil.make_archive(root_dir=folder)")
shutil.make_archive(os.path.join(out, "shutil-base-dir"), "zip", root_dir=out, base_dir="source")
ok("shutil-base-dir", "Python shutil.make_archive(base_dir=folder): the folder's name on top", prefix="source/")

# Info-ZIP zip: directories, the folder itself on top; -y keeps a symlink, which is refused.
run("zip", "-qr", archive("infozip"), ".")
ok("infozip", "Info-ZIP zip -r . (directory entries)")
run("zip", "-qr", archive("infozip-parent"), "source", cwd=out)
ok("infozip-parent", "Info-ZIP zip -r folder (the folder's name on top)", prefix="source/")
linked = os.path.join(out, "linked")
shutil.copytree(source, linked)
os.symlink("/etc/passwd", os.path.join(linked, "weights", "passwd"))
run("zip", "-qry", archive("infozip-symlink"), ".", cwd=linked)
refused("infozip-symlink", "Info-ZIP zip -r -y with a symbolic link", "symbolic link")
run("zip", "-qr", "-P", "secret", archive("infozip-encrypted"), ".")
refused("infozip-encrypted", "Info-ZIP zip -P (ZipCrypto)", "encrypted")

# libarchive's bsdtar, and 7-Zip (plain, and AES-encrypted: refused).
run("bsdtar", "--format", "zip", "-cf", archive("bsdtar"), ".")
ok("bsdtar", "bsdtar --format zip -cf . (./ prefixed names)")
run("bsdtar", "--format", "zip", "--options", "zip:compression=store", "-cf", archive("bsdtar-stored"), *sorted(FILES))
ok("bsdtar-stored", "bsdtar --format zip, stored, files named one by one")
seven = shutil.which("7z") or shutil.which("7zz") or shutil.which("7za")
run(seven, "a", "-tzip", "-bd", archive("7zip"), ".")
ok("7zip", "7-Zip 7z a -tzip")
run(seven, "a", "-tzip", "-bd", "-mm=Deflate64", archive("7zip-deflate64"), ".")
refused("7zip-deflate64", "7-Zip 7z a -tzip -mm=Deflate64", "Deflate64")
run(seven, "a", "-tzip", "-bd", "-psecret", "-mem=AES256", archive("7zip-aes"), ".")
refused("7zip-aes", "7-Zip with AES-256 encryption", "encrypted")

# The JDK's jar tool (ZipOutputStream: data descriptors, made-by MS-DOS, no attributes).
if shutil.which("jar"):
    run("jar", "--create", "--no-manifest", "--file", archive("jdk-jar"), ".")
    ok("jdk-jar", "JDK jar --create --no-manifest")


class Unseekable(io.RawIOBase):
    """A pipe-like target: zipfile then writes data descriptors after each entry."""
    def __init__(self, target):
        self.target = target

    def writable(self):
        return True

    def write(self, data):
        return self.target.write(data)


def entry(name, system, attributes):
    info = zipfile.ZipInfo(name, date_time=(2025, 3, 4, 5, 6, 8))
    info.create_system = system
    info.external_attr = attributes
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


# Java-style: ZipOutputStream writes to a stream (data descriptors), MS-DOS host, no attributes.
with open(archive("java-style"), "wb") as target, zipfile.ZipFile(Unseekable(target), "w") as z:
    for directory in DIRECTORIES:
        z.writestr(entry(directory + "/", 0, 0), b"")
    for path, data in FILES.items():
        with z.open(entry(path, 0, 0), "w") as handle:
            handle.write(data)
ok("java-style", "Java-style: data descriptors, made-by MS-DOS, no attributes")

# Windows Explorer / .NET style: made-by MS-DOS, DOS attributes, backslash paths.
with zipfile.ZipFile(archive("windows-style"), "w") as z:
    for directory in DIRECTORIES:
        z.writestr(entry(directory.replace("/", "\\") + "\\", 0, 0x10), b"")
    for path, data in FILES.items():
        z.writestr(entry(path.replace("/", "\\"), 0, 0x20), data)
ok("windows-style", "Windows-style: made-by MS-DOS, DOS attributes (archive, directory), backslash paths")

# macOS Finder's "Compress": the folder on top, __MACOSX/ with AppleDouble ._ files, .DS_Store.
apple_double = b"\x00\x05\x16\x07\x00\x02\x00\x00" + b"Mac OS X        " + b"\x00" * 64
with zipfile.ZipFile(archive("macos-finder"), "w") as z:
    skipped = []
    z.writestr(entry("model/", 3, (0o040755 << 16) | 0x10), b"")
    for path, data in FILES.items():
        z.writestr(entry("model/" + path, 3, 0o100644 << 16), data)
    for path in ["model/.DS_Store", "model/tokenizer/.DS_Store"]:
        z.writestr(entry(path, 3, 0o100644 << 16), b"\x00\x00\x00\x01Bud1" + b"\x00" * 32)
        skipped.append(path)
    z.writestr(entry("__MACOSX/", 3, (0o040755 << 16) | 0x10), b"")
    for path in ["model/._config.json", "model/tokenizer/._vocab.txt"]:
        name = "__MACOSX/" + path.replace("model/", "model/", 1)
        z.writestr(entry(name, 3, 0o100644 << 16), apple_double)
        skipped.append(name)
    z.writestr(entry("model/._model.safetensors", 3, 0o100644 << 16), apple_double)
    skipped.append("model/._model.safetensors")
ok("macos-finder", "macOS Finder Compress: __MACOSX/, ._* AppleDouble and .DS_Store", prefix="model/", skipped=skipped)

with open(os.path.join(out, "corpus.json"), "w") as handle:
    json.dump(corpus, handle, indent=1)
print(len(corpus))
