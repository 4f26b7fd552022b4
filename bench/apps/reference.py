"""Reference answer of a bench app, computed in-process without any server.

    python3.11 reference.py MODULE [REQUEST_BODY_FILE]

Calls MODULE.application once through wsgiref.validate (so the apps stay PEP 3333 clean) with a
GET / (or a POST / with the file's bytes as wsgi.input) and prints one JSON object:
{"status": "200 OK", "headers": [[name, value], ...], "body_b64": "..."}.
The suite checks every peer's bytes against this (and, for hello/64k/upload, against bytes it
computes itself).
"""

import base64
import importlib
import io
import json
import os
import sys
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator


def main():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    module = importlib.import_module(sys.argv[1])
    body = b""
    if len(sys.argv) > 2:
        with open(sys.argv[2], "rb") as f:
            body = f.read()
    environ = {}
    setup_testing_defaults(environ)
    environ["REQUEST_METHOD"] = "POST" if body else "GET"
    environ["PATH_INFO"] = "/"
    environ["QUERY_STRING"] = ""
    environ["SERVER_PORT"] = "80"
    environ["wsgi.input"] = io.BytesIO(body)
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["CONTENT_TYPE"] = "application/octet-stream"
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = status
        captured["headers"] = headers
        return lambda data: None

    result = validator(module.application)(environ, start_response)
    try:
        out = b"".join(result)
    finally:
        result.close()
    json.dump(
        {"status": captured["status"], "headers": [list(h) for h in captured["headers"]], "body_b64": base64.b64encode(out).decode("ascii")},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
