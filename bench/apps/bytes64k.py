"""A 64 KiB response body (65536 bytes) built once at import.

The body is 8192 lines of b"%07d\n" (line numbers 0..8191), so every offset is distinct and a
truncated, shifted or mixed-up body never compares equal. bench/lib/scenarios.ts builds the same
bytes for the bare Node peer and the checks.
"""

BODY = b"".join(b"%07d\n" % i for i in range(8192))
assert len(BODY) == 65536
HEADERS = [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    start_response("200 OK", list(HEADERS))
    return [BODY]
