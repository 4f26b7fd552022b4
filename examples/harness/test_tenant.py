"""A small Python test module every tenant runs (examples/harness-50.mjs)."""
import os


def inc(x):
    return x + 1


def test_inc():
    assert inc(41) == 42


def test_isolated_state():
    # Each tenant has its own module state: the counter starts at zero everywhere.
    global COUNTER
    COUNTER = globals().get("COUNTER", 0) + 1
    assert COUNTER == 1


def test_own_environ():
    assert os.environ["TENANT"] == os.environ["EXPECTED_TENANT"]


def test_fails_for_odd_tenants():
    n = int(os.environ["TENANT"].split("-")[1])
    assert n % 2 == 0, "tenant %d is odd" % n


def run_all():
    results = {}
    for name, fn in sorted(globals().items()):
        if name.startswith("test_") and callable(fn):
            try:
                fn()
                results[name] = "pass"
            except AssertionError as e:
                results[name] = "FAIL: %s" % (e or "assertion failed")
    return results
