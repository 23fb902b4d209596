"""Drives the stock huggingface_hub (and transformers) client against a warehouse's /hf
surface as a user would: HF_ENDPOINT, HF_TOKEN and HF_HOME come from the environment.
Usage: hub_client.py SCENARIO [ARGS...]; prints "ok SCENARIO" when every check held."""
import hashlib
import os
import socket
import sys
import tempfile
import threading

import huggingface_hub
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.utils import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

api = HfApi()
OLD = huggingface_hub.__version__.startswith("0.")


def expect(condition, what):
    if not condition:
        raise AssertionError(what)


def raises(kind, call):
    try:
        call()
    except kind as error:
        return error
    raise AssertionError(f"expected {kind.__name__} from {call}")


def folder():
    root = tempfile.mkdtemp()
    os.makedirs(os.path.join(root, "sub"))
    with open(os.path.join(root, "config.json"), "w") as f:
        f.write('{"model_type": "bert", "architectures": ["BertModel"], "hidden_size": 8}\n')
    with open(os.path.join(root, "README.md"), "w") as f:
        f.write("---\nlicense: mit\npipeline_tag: fill-mask\ntags:\n- tiny\n---\n# Tiny\n")
    with open(os.path.join(root, "sub", "a b#c.txt"), "w") as f:
        f.write("nested\n")
    # A safetensors file written by hand (8-byte header length, JSON header, data): 6 F32 parameters.
    header = b'{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}'
    with open(os.path.join(root, "model.safetensors"), "wb") as f:
        f.write(len(header).to_bytes(8, "little") + header + bytes(24))
    # Inline (below the limit) but long: its content streams into a spool file.
    with open(os.path.join(root, "sub", "vocab.bin"), "wb") as f:
        f.write(bytes(range(256)) * 1200)
    return root


def roundtrip(user):
    """Create, upload, read back by every kind of revision, list, tag, delete."""
    repo = f"{user}/tiny"
    expect(api.whoami()["name"] == user, "whoami names the token's user")
    url = api.create_repo(repo, private=True)
    expect(url.repo_id == repo and "/hf/" in str(url), f"create_repo answers the repo url: {url!r}")
    expect(api.model_info(repo).sha is not None, "an empty repo has a commit")
    api.create_repo(repo, exist_ok=True)
    raises(HfHubHTTPError, lambda: api.create_repo(repo))
    first = api.upload_folder(repo_id=repo, folder_path=folder())
    info = api.model_info(repo)
    expect(info.sha == first.oid and len(info.sha) == 40, "the commit is main's sha")
    expect(sorted(s.rfilename for s in info.siblings) == ["README.md", "config.json", "model.safetensors", "sub/a b#c.txt", "sub/vocab.bin"], f"siblings: {info.siblings}")
    expect(open(hf_hub_download(repo, "sub/vocab.bin"), "rb").read() == bytes(range(256)) * 1200, "a long inline file arrives whole")
    expect(info.safetensors is not None and info.safetensors.total == 6 and info.safetensors.parameters == {"F32": 6},
           f"safetensors parameters from detection: {info.safetensors}")
    expect(info.pipeline_tag == "fill-mask" and info.library_name == "transformers", f"card data: {info.pipeline_tag} {info.library_name}")
    expect("tiny" in info.tags and info.private, f"tags {info.tags}")
    path = hf_hub_download(repo, "config.json")
    expect(f"snapshots/{first.oid}/config.json" in path, path)
    expect(open(hf_hub_download(repo, "sub/a b#c.txt", revision="v1")).read() == "nested\n", "nested path by version")
    second = api.upload_file(path_or_fileobj=b"hello\n", path_in_repo="hello.txt", repo_id=repo)
    expect(second.oid != first.oid, "a commit makes a new sha")
    if OLD:
        # 0.36 builds the answer to a skipped commit itself, as {endpoint}/{repo}/commit/…, and
        # cannot parse it back below a path prefix (/hf): a client limit the README names.
        raises(ValueError, lambda: api.upload_file(path_or_fileobj=b"hello\n", path_in_repo="hello.txt", repo_id=repo))
    else:
        again = api.upload_file(path_or_fileobj=b"hello\n", path_in_repo="hello.txt", repo_id=repo)
        expect(again.oid == second.oid, "an unchanged file makes no commit")
    expect(len(api.list_repo_commits(repo)) == 2, "the unchanged file made no version")
    expect(api.model_info(repo, revision="v1").sha == first.oid, "v1 keeps its sha")
    # A commit on a parent that is no longer the head is refused, and so is one to a version.
    from huggingface_hub import CommitOperationAdd
    stale = raises(HfHubHTTPError, lambda: api.create_commit(repo, [CommitOperationAdd("late.txt", b"late")], commit_message="late",
                                                            parent_commit=first.oid))
    expect(stale.response.status_code == 412, f"stale parent: {stale}")
    pinned = raises(HfHubHTTPError, lambda: api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo, revision="v1"))
    expect(pinned.response.status_code == 403 and "never changes" in str(pinned), f"commit to a version: {pinned}")
    expect(len(api.list_repo_commits(repo)) == 2, "refused commits made no version")
    expect(api.model_info(repo, revision=first.oid).sha == first.oid, "a sha is a revision")
    expect(open(hf_hub_download(repo, "config.json", revision=first.oid)).read().startswith("{"), "download by sha")
    api.create_tag(repo, tag="production", revision="v1")
    expect(api.model_info(repo, revision="production").sha == first.oid, "an alias is a revision")
    refs = api.list_repo_refs(repo)
    expect({b.name for b in refs.branches} == {"main", "production"}, f"branches {refs.branches}")
    expect({t.name for t in refs.tags} == {"v1", "v2"}, f"tags {refs.tags}")
    commits = api.list_repo_commits(repo)
    expect([c.commit_id for c in commits] == [second.oid, first.oid], f"commits {commits}")
    expect(sorted(api.list_repo_files(repo)) == ["README.md", "config.json", "hello.txt", "model.safetensors", "sub/a b#c.txt", "sub/vocab.bin"], "list_repo_files")
    tree = list(api.list_repo_tree(repo, path_in_repo="sub"))
    expect([t.path for t in tree] == ["sub/a b#c.txt", "sub/vocab.bin"], f"tree {tree}")
    raises(EntryNotFoundError, lambda: list(api.list_repo_tree(repo, path_in_repo="nothere")))
    infos = api.get_paths_info(repo, ["config.json", "sub", "missing"])
    expect(sorted(i.path for i in infos) == ["config.json", "sub"], f"paths info {infos}")
    snapshot = snapshot_download(repo, revision="v1", allow_patterns=["*.json"], cache_dir=tempfile.mkdtemp())
    expect(os.listdir(snapshot) == ["config.json"], f"snapshot {os.listdir(snapshot)}")
    expect(api.file_exists(repo, "config.json") and not api.file_exists(repo, "nope.txt"), "file_exists")
    expect(api.repo_exists(repo) and not api.repo_exists(f"{user}/nothere"), "repo_exists")
    raises(EntryNotFoundError, lambda: hf_hub_download(repo, "missing.txt"))
    raises(RevisionNotFoundError, lambda: hf_hub_download(repo, "config.json", revision="v99"))
    raises(RepositoryNotFoundError, lambda: hf_hub_download(f"{user}/nothere", "config.json"))
    api.delete_file("hello.txt", repo_id=repo)
    expect(sorted(api.list_repo_files(repo)) == ["README.md", "config.json", "model.safetensors", "sub/a b#c.txt", "sub/vocab.bin"], "delete_file made v3 without it")
    expect([m.id for m in api.list_models(author=user)] == [repo], "list_models lists the caller's repos")
    expect([m.id for m in api.list_models(author=user, search="tin")] == [repo], "search matches part of the id")
    expect(list(api.list_models(author=user, search="nothing-like-it")) == [], "search leaves out the rest")
    api.delete_tag(repo, tag="production")
    raises(RevisionNotFoundError, lambda: api.model_info(repo, revision="production"))
    api.create_repo(f"{user}/doomed")
    api.delete_repo(f"{user}/doomed")
    expect(not api.repo_exists(f"{user}/doomed"), "delete_repo")
    api.delete_repo(f"{user}/doomed", missing_ok=True)


def foreign(repo):
    """Another user's repo looks missing; a bad token is a 401; no token looks missing."""
    raises(RepositoryNotFoundError, lambda: api.model_info(repo))
    raises(RepositoryNotFoundError, lambda: hf_hub_download(repo, "config.json", cache_dir=tempfile.mkdtemp()))
    expect(not api.repo_exists(repo), "another user's repo does not exist for this token")
    raises(RepositoryNotFoundError, lambda: api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo))
    raises(RepositoryNotFoundError, lambda: api.model_info(repo, token=False))
    error = raises(HfHubHTTPError, lambda: api.model_info(repo, token="mwt_not_a_token"))
    expect(error.response.status_code == 401 and not isinstance(error, RepositoryNotFoundError), f"bad token: {error}")


def transformers_loads(user):
    """AutoConfig and AutoTokenizer from a repo uploaded with upload_folder."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import AutoConfig, AutoTokenizer, BertConfig, PreTrainedTokenizerFast
    root = tempfile.mkdtemp()
    BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, vocab_size=8).save_pretrained(root)
    vocab = {"[UNK]": 0, "[PAD]": 1, "hello": 2, "world": 3}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]").save_pretrained(root)
    repo = f"{user}/bert-tiny"
    api.create_repo(repo, exist_ok=True)
    api.upload_folder(repo_id=repo, folder_path=root)
    config = AutoConfig.from_pretrained(repo)
    expect(config.model_type == "bert" and config.hidden_size == 16, f"config {config}")
    loaded = AutoTokenizer.from_pretrained(repo, revision="v1")
    expect(loaded("hello world")["input_ids"] == [2, 3], f"tokens {loaded('hello world')}")


def large_file(user, size_mib):
    """A file above the inline limit through Git LFS (needs HF_HUB_DISABLE_XET=1)."""
    repo = f"{user}/large"
    api.create_repo(repo, exist_ok=True)
    path = os.path.join(tempfile.mkdtemp(), "weights.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(int(size_mib * 1024 * 1024)))
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    commit = api.upload_file(path_or_fileobj=path, path_in_repo="weights.bin", repo_id=repo)
    got = hf_hub_download(repo, "weights.bin", revision=commit.oid)
    expect(hashlib.sha256(open(got, "rb").read()).hexdigest() == digest, "the LFS file downloads whole")
    print("sha256", digest)


def xet_refused(user):
    """A default install tries Xet for a file above the limit and is told why it fails."""
    repo = f"{user}/xet"
    api.create_repo(repo, exist_ok=True)
    path = os.path.join(tempfile.mkdtemp(), "big.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(2 * 1024 * 1024))
    try:
        api.upload_file(path_or_fileobj=path, path_in_repo="big.bin", repo_id=repo)
    except Exception as error:  # hf_xet raises a plain ConnectionError naming the route
        expect("xet-write-token" in str(error), f"the error names the Xet route: {error}")
        return
    raise AssertionError("a Xet upload cannot succeed here")


def resumed(repo, filename, port):
    """A download whose connection drops after 12.5 MiB resumes with Range (206)."""
    seen = []

    def proxy(listener):
        first = True
        while True:
            client, _ = listener.accept()
            upstream = socket.create_connection(("127.0.0.1", port))
            request = client.recv(65536)
            seen.append(request.split(b"\r\n")[0] + b" " + (b"range" if b"range:" in request.lower() else b"whole"))
            # One request per connection, so the relay knows where each answer ends.
            head, _, rest = request.partition(b"\r\n\r\n")
            upstream.sendall(head + b"\r\nConnection: close\r\n\r\n" + rest)
            sent, limit = 0, (12 * 1024 * 1024 + 512 * 1024) if first and request.startswith(b"GET") else None
            if request.startswith(b"GET"):
                first = False
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) > limit:
                    client.sendall(data[: limit - sent])
                    break
                client.sendall(data)
                sent += len(data)
            client.close()
            upstream.close()

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    threading.Thread(target=proxy, args=(listener,), daemon=True).start()
    endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}/hf"
    import huggingface_hub.constants as constants
    constants.ENDPOINT = endpoint
    constants.HUGGINGFACE_CO_URL_TEMPLATE = endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    path = hf_hub_download(repo, filename, endpoint=endpoint, cache_dir=tempfile.mkdtemp())
    print("sha256", hashlib.sha256(open(path, "rb").read()).hexdigest())
    expect(any(b"GET" in line and line.endswith(b"range") for line in seen), f"a ranged GET resumed: {seen}")


def fetch(repo, filename):
    """hf_hub_download of one file; prints its SHA-256."""
    path = hf_hub_download(repo, filename, cache_dir=tempfile.mkdtemp())
    print("sha256", hashlib.sha256(open(path, "rb").read()).hexdigest())


if __name__ == "__main__":
    scenario, *arguments = sys.argv[1:]
    {"roundtrip": roundtrip, "foreign": foreign, "transformers": transformers_loads, "large": lambda u, s: large_file(u, float(s)),
     "xet": xet_refused, "resume": lambda r, f, p: resumed(r, f, int(p)), "fetch": fetch}[scenario](*arguments)
    print("ok", scenario)
