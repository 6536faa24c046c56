"""Benchmarks (run as scripts) and the race worker that tests share with them."""

import os

BYTECODE_OFF = "PYTHONDONTWRITEBYTECODE"


def as_installed() -> None:
    """Let the gitsm processes a benchmark starts keep bytecode caches, as an installed gitsm
    has (pip compiles a package's modules when it installs it). With ``PYTHONDONTWRITEBYTECODE``
    set, every process of an editable checkout compiles every module it imports again: about
    200 ms of a fresh ``gitsm materialize``, which no installed gitsm pays."""
    os.environ.pop(BYTECODE_OFF, None)
