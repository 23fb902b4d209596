#!/usr/bin/env python3
"""An OpenAI-compatible chat-completions server for the tests, on 127.0.0.1 only.

    openai_server.py LOG_FILE      (prints its port, then serves until killed)

Each request (headers and JSON body) is appended to LOG_FILE as one JSON line. The answer is
computed from the request, as a real model would be asked to: the system message's numbered
facts are searched for the one about mutual information, and the answer names its first
feature and cites it as [n]. `stream: true` answers word by word as Server-Sent Events. The
model "broken" answers 500."""
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = sys.argv[1]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with open(LOG, "a") as log:
            log.write(json.dumps({"path": self.path, "authorization": self.headers.get("Authorization"), "body": body}) + "\n")
        if self.path != "/v1/chat/completions":
            return self.reply(404, {"error": {"message": "no such route"}})
        if body.get("model") == "broken":
            return self.reply(500, {"error": {"message": "the model crashed"}})
        system = body["messages"][0]["content"]
        answer = "I cannot tell from these facts."
        for line in system.splitlines():
            if line.startswith("[") and "mutual information" in line:
                number = line[1:line.index("]")]
                first = line.split("): ", 1)[1].split(" ")[0]
                answer = f"The feature most associated with the target is {first} [{number}]."
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            words = answer.split(" ")
            for index, word in enumerate(words):
                piece = word + (" " if index < len(words) - 1 else "")
                self.chunk("data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": piece}}]}) + "\n\n")
            self.chunk("data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.reply(200, {"id": "x", "object": "chat.completion", "model": body["model"],
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}]})

    def chunk(self, text):
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
