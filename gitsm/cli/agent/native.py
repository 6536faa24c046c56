"""The native launcher (``launcher.c``): built with the system's C compiler and installed as the
``gitsm`` command, in place of the Python console script.

A command handed to the agent by the Python launcher pays for starting Python (11 ms on the 2-core
machine, of a 16 ms ``get-secret-value``); the native launcher starts in about 1 ms and hands the
same request over. It stands for one Python and one gitsm: their identity (as
:func:`.launcher.interpreter` gives it) and the protocol are written into it when it is built, and
everything it does not do itself, it leaves to that Python's launcher, run with the same
arguments (``python -P -c``: the directory it starts from is not on the module path).

``python -m gitsm.cli.agent.native install [BIN]`` builds it and puts it in place of ``BIN/gitsm``
(default: the directory of this Python, a virtual environment's ``bin``) by a rename, so that a
``gitsm`` being started is never half written; ``scripts/setup`` runs it (a launcher built from
the same source for the same Python and gitsm is left as it is). Without a C compiler
(``$CC``, else ``cc``) nothing changes: the console script stays. ``pip`` installing gitsm again
writes the console script back; running ``install`` again builds the launcher again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from gitsm.cli.agent.launcher import PROTOCOL, interpreter

SOURCE = Path(__file__).with_name("launcher.c")
MAGIC = b"\x7fELF"
BUILT = b"gitsm-native-build:"
CODE = "import sys; sys.argv[:2] = sys.argv[1:2]; from gitsm.cli import main; sys.exit(main())"
"""What the native launcher runs for what it leaves to Python (``python -P -c CODE ITSELF ARGS``):
the console script's code, ``sys.argv[0]`` the launcher's own path."""


def python_launcher(launcher: Path | str, python: str = sys.executable) -> list[str]:
    """The command line the native launcher ``launcher`` runs the Python launcher with (its
    arguments follow)."""
    return [python, "-P", "-c", CODE, str(launcher)]


def c_string(text: str) -> str:
    """``text`` as a C string literal, every byte but letters, digits and ``/._-`` escaped."""
    safe = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-"
    raw = os.fsencode(text)
    return '"' + "".join(chr(b) if b in safe else f"\\{b:03o}" for b in raw) + '"'


def config_header(python: str, identity: list[str]) -> str:
    """``native_config.h``: the Python to run for what the launcher leaves to it, and the
    identity the agent compares with its own."""
    executable, prefix, package = identity
    return (
        f"#define GITSM_PYTHON {c_string(python)}\n"
        f"#define GITSM_ID_EXECUTABLE {c_string(executable)}\n"
        f"#define GITSM_ID_PREFIX {c_string(prefix)}\n"
        f"#define GITSM_ID_PACKAGE {c_string(package)}\n"
        f"#define GITSM_PROTOCOL {PROTOCOL}\n"
        f"#define GITSM_CODE {c_string(CODE)}\n"
    )


def compiler() -> str | None:
    """The C compiler to use: ``$CC``, else ``cc`` on the PATH; None when there is none."""
    chosen = os.environ.get("CC") or "cc"
    return shutil.which(chosen)


def build_id(header: str) -> bytes:
    """What a launcher built from ``header`` and this source carries (:data:`BUILT`), so that
    ``install`` knows one that needs no new build."""
    digest = hashlib.sha1(header.encode() + SOURCE.read_bytes()).hexdigest()
    return BUILT + digest.encode()


def build(output: Path, cc: str, header: str) -> None:
    """Compile the launcher with ``header`` (:func:`config_header`) into ``output``;
    CalledProcessError (with the compiler's messages) when it fails."""
    with tempfile.TemporaryDirectory() as work:
        built = build_id(header).decode()
        Path(work, "native_config.h").write_text(header + f'#define GITSM_BUILD "{built}"\n')
        subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-I", work, "-o", str(output),
                        str(SOURCE)], check=True, capture_output=True, text=True)  # fmt: skip


def is_native(path: Path) -> bool:
    """True when ``path`` is an executable this module built (not a script)."""
    try:
        with open(path, "rb") as file:
            return file.read(4) == MAGIC
    except OSError:
        return False


def install(bin_dir: Path) -> str:
    """Build the launcher and rename it over ``bin_dir/gitsm``; what was done, in words."""
    cc = compiler()
    if cc is None:
        return "no C compiler ($CC or cc): gitsm stays the Python launcher"
    target = bin_dir / "gitsm"
    header = config_header(sys.executable, interpreter())
    with contextlib.suppress(OSError):
        if is_native(target) and build_id(header) in target.read_bytes():
            return f"{target}: the native launcher, up to date"
    partial = bin_dir / ".gitsm-native.tmp"
    try:
        build(partial, cc, header)
        os.chmod(partial, 0o755)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return f"{target}: the native launcher (built with {cc})"


def main(argv: list[str]) -> int:
    """``install [BIN]``."""
    if not argv or argv[0] != "install" or len(argv) > 2:
        print("usage: python -m gitsm.cli.agent.native install [BIN]", file=sys.stderr)
        return 2
    bin_dir = Path(argv[1]) if len(argv) == 2 else Path(sys.executable).parent
    try:
        print(install(bin_dir))
    except subprocess.CalledProcessError as exc:
        print(f"building the native launcher failed:\n{exc.stderr}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"installing the native launcher in {bin_dir} failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
