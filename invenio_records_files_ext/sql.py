"""Small SQL helpers shared by the modules that query in bulk."""

CHUNK_SIZE = 500
"""Values per ``IN (...)`` list: well under every database's limit."""


def chunks(values, size=CHUNK_SIZE):
    """Yield ``values`` in lists of at most ``size`` items."""
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]
