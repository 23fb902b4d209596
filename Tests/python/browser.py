#!/usr/bin/env python3
"""Loads web UI pages in headless Chromium, signed in, and reports what they show.

  browser.py BASE_URL TOKEN SCREENSHOT_DIR NAME=PATH [NAME=PATH ...]

Signs in through the login form (so the HttpOnly session cookie is set the way a person
gets it), then for each page: navigates, waits for the load event and a quiet moment,
writes SCREENSHOT_DIR/NAME.png, and prints one JSON line {name, url, title, text, svg, errors}.
A NAME starting with "live" waits for the page's SSE script to fill the leaderboard; one
starting with "upload-submit" fills the upload form, attaches BROWSER_UPLOAD_FILE and submits;
"dataset-upload" does the same with the dataset form and BROWSER_DATASET_FILE; "train-submit"
takes the first recommendation, picks the fast preset and starts a job from the dataset page,
then waits for its live leaderboard; "cancel" presses a running job's Cancel button and waits
for the page to say it was cancelled.
Driven over the Chrome DevTools Protocol (websocket-client)."""
import base64, json, os, shutil, subprocess, sys, tempfile, time, urllib.request
import websocket


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("no chromium on PATH (apt-get install chromium)")


class Page:
    def __init__(self, url):
        self.socket = websocket.create_connection(url, timeout=30)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def load(self, url):
        self.call("Page.navigate", url=url)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.evaluate("document.readyState") == "complete" and self.evaluate("location.href") != "about:blank":
                break
            time.sleep(0.05)
        time.sleep(0.3)


def wait_for(page, condition, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if page.evaluate(f"(() => {{ try {{ return !!({condition}); }} catch (e) {{ return false; }} }})()"):
                break
        except (RuntimeError, websocket.WebSocketException):
            pass  # navigating: the context went away
        time.sleep(0.1)
    time.sleep(0.3)


def main():
    base, token, directory, pages = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    os.makedirs(directory, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="warehouse-chromium-")
    port = 9300 + os.getpid() % 500
    process = subprocess.Popen([chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                f"--remote-debugging-port={port}", f"--user-data-dir={profile}", "--window-size=1280,900",
                                "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        targets = None
        for _ in range(200):
            try:
                targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=1))
                if any(t.get("type") == "page" for t in targets):
                    break
            except OSError:
                pass
            time.sleep(0.1)
        target = next(t for t in targets if t.get("type") == "page")
        page = Page(target["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Runtime.enable")
        page.load(base + "/ui/login")
        page.evaluate(f"document.querySelector('input[name=token]').value = {json.dumps(token)}; document.querySelector('form').submit()")
        time.sleep(0.5)
        for item in pages:
            name, path = item.split("=", 1)
            page.events.clear()
            page.load(base + path)
            if name.startswith("live"):
                # A running job: wait until the page's EventSource has added leaderboard rows.
                deadline = time.time() + 30
                while time.time() < deadline and page.evaluate("document.querySelectorAll('#board tr').length") < 3:
                    time.sleep(0.1)
            if name.startswith("upload-submit"):
                # Fill the form, attach a file as a person would, submit, follow to the new version.
                page.evaluate("""(() => { const f = document.getElementById('upload');
                    f.user_id.value = 'alice'; f.model_id.value = 'from-browser'; f.tags.value = 'ui'; })()""")
                document = page.call("DOM.getDocument")["root"]["nodeId"]
                node = page.call("DOM.querySelector", nodeId=document, selector="input[type=file]")["nodeId"]
                page.call("DOM.setFileInputFiles", nodeId=node, files=[os.environ["BROWSER_UPLOAD_FILE"]])
                page.evaluate("document.querySelector('#upload button').click()")
                deadline = time.time() + 20
                while time.time() < deadline and "/ui/models/" not in (page.evaluate("location.pathname") or ""):
                    time.sleep(0.1)
                time.sleep(0.3)
            if name.startswith("dataset-upload"):
                page.evaluate("""(() => { const f = document.getElementById('dataset-upload');
                    f.dataset_id.value = 'from-browser'; f.name.value = 'Penguins from a browser'; })()""")
                document = page.call("DOM.getDocument")["root"]["nodeId"]
                node = page.call("DOM.querySelector", nodeId=document, selector="#dataset-upload input[type=file]")["nodeId"]
                page.call("DOM.setFileInputFiles", nodeId=node, files=[os.environ["BROWSER_DATASET_FILE"]])
                page.evaluate("document.querySelector('#dataset-upload button').click()")
                wait_for(page, "location.pathname.startsWith('/ui/datasets/alice/from-browser') && document.readyState === 'complete'")
            if name.startswith("train-submit"):
                page.evaluate("""(() => { document.querySelector('#recommendations .use').click();
                    const f = document.getElementById('train');
                    f.model_id.value = 'from-browser-job'; f.preset.value = 'fast'; f.time_limit_s.value = '20';
                    document.getElementById('train-button').click(); })()""")
                wait_for(page, "location.pathname.startsWith('/ui/jobs/') && document.readyState === 'complete'")
                wait_for(page, "document.querySelectorAll('#board tr').length >= 3 || document.body.innerText.includes('Registered')", 60)
            if name.startswith("cancel"):
                wait_for(page, "document.querySelector('#cancel button') !== null", 10)
                page.evaluate("document.querySelector('#cancel button').click()")
                wait_for(page, "document.readyState === 'complete' && document.getElementById('status') && document.getElementById('status').textContent === 'cancelled'", 30)
            shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
            with open(os.path.join(directory, name + ".png"), "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            errors = [e["params"].get("exceptionDetails", {}).get("text", "") for e in page.events if e.get("method") == "Runtime.exceptionThrown"]
            print(json.dumps({"name": name, "url": page.evaluate("location.pathname + location.search"), "title": page.evaluate("document.title"),
                              "text": page.evaluate("document.body.innerText"), "svg": page.evaluate("document.querySelectorAll('svg').length"),
                              "errors": errors}), flush=True)
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
