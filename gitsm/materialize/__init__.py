"""Materialization for CI: secrets as files, dotenv, JSON, shell exports, a Kubernetes Secret,
GitHub Actions variables, or the environment of one command.

Design: a spec (:mod:`.spec`, docs/MATERIALIZE.md) lists entries, each a secret version (or one
key, or every key, of its JSON SecretString) and its destinations. :mod:`.resolve` reads every
version once, all from one commit of the store, and collects every problem instead of stopping at
the first; :mod:`.formats` selects and checks what a format can hold and renders it;
:mod:`.confine` keeps every file below ``--out`` and off symbolic links; :mod:`.worktree` refuses
plaintext inside a git work tree unless git ignores it; :mod:`.writing` writes all files or none,
each atomically, through directories opened without following links; :mod:`.child` runs a
command with the values in its environment only. :mod:`.pipeline` ties them together: read,
check, and only then write, so a failed run writes nothing. This package never imports the CLI.
"""

from __future__ import annotations

from gitsm.materialize.errors import MaterializeError, SpecError
from gitsm.materialize.formats import FORMATS
from gitsm.materialize.pipeline import Summary, collect, environment, materialize
from gitsm.materialize.resolve import Item
from gitsm.materialize.spec import DEFAULT_SPEC, Entry, Spec, load_spec, parse_flag, parse_spec

__all__ = [
    "DEFAULT_SPEC",
    "FORMATS",
    "Entry",
    "Item",
    "MaterializeError",
    "Spec",
    "SpecError",
    "Summary",
    "collect",
    "environment",
    "load_spec",
    "materialize",
    "parse_flag",
    "parse_spec",
]
