"""Upload: reads the whole wsgi.input and answers b"<length> <sha256 hex>\n".

Reads at most CONTENT_LENGTH bytes (PEP 3333: never read past it), in 64 KiB chunks, hashing as it
goes; with no CONTENT_LENGTH it reads to EOF (wsgi.input_terminated servers / chunked bodies).
"""

import hashlib

CHUNK = 65536


def application(environ, start_response):
    stream = environ["wsgi.input"]
    digest = hashlib.sha256()
    total = 0
    length = environ.get("CONTENT_LENGTH") or ""
    remaining = int(length) if length.strip() else None
    while remaining is None or remaining > 0:
        want = CHUNK if remaining is None else min(CHUNK, remaining)
        data = stream.read(want)
        if not data:
            break
        digest.update(data)
        total += len(data)
        if remaining is not None:
            remaining -= len(data)
    body = b"%d %s\n" % (total, digest.hexdigest().encode("ascii"))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
