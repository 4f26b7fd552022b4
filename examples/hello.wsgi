# A minimal WSGI application: `npx pyhost start-server examples/hello.wsgi`
import sys


def application(environ, start_response):
    body = b"Hello from Python %d.%d via pyhost!\n" % sys.version_info[:2]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
