"""The quoting of the dotenv and GitHub formats, property-tested against their real readers.

dotenv: whatever is written reads back identically in python-dotenv (interpolation on and off) and
in ``sh`` and ``bash`` (``set -a; . ./f.env``), and sourcing it never runs a command (a canary
file is never created); a value that cannot be written so is refused, and the rest of the file is
still right. GitHub: ``$GITHUB_ENV`` read back by :func:`parse_github_env`, the runner's reader
(actions/runner ``SetEnvFileCommand``, following GitHub's documented ``NAME=value`` and
``NAME<<DELIMITER`` syntax) as it behaves on Linux and on Windows, and the ``::add-mask::`` lines
unescaped as the runner does.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from dotenv import dotenv_values
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gitsm.materialize import formats
from gitsm.materialize.resolve import Item

CANARY = "PWNED"
NASTY = ["'", '"', "$", "`", "\\", "\\\\", "\n", "\r", "\r\n", "\t", " ", "#", "=", "{", "}",
         ":-", "$(", "${", "\\'", "'\\''", f"'; touch {CANARY}; '", f'"; touch {CANARY}; "',
         f"$(touch {CANARY})", f"`touch {CANARY}`", "${HOME}", "$HOME", "!", "\x0b", "\x0c",
         "\x1c", "\x85", "\u2028", "\ufeff", "é", "€", "%", "%0A", "<<", "ghadelimiter_", "EOF"]  # fmt: skip
FRAGMENTS = st.one_of(
    st.sampled_from(NASTY),
    st.characters(exclude_categories=("Cs",), exclude_characters="\0"),
)
VALUES = st.lists(FRAGMENTS, max_size=12).map("".join)


def pairs_of(values: list[str]) -> formats.Pairs:
    return [(f"V{i}", Item(v.encode(), False, f"V{i}", None, 0o600, f"ci/s{i}", "--env"))
            for i, v in enumerate(values)]  # fmt: skip


def source_in(shell: str, directory: Path, count: int) -> list[str]:
    """The values ``V0``... that ``set -a; . ./f.env`` gives ``shell``, run in ``directory``."""
    names = " ".join(f'"$V{i}"' for i in range(count))
    show = f"printf '%s\\0' {names}" if count else ":"
    done = subprocess.run(
        [shell, "-c", f"set -a; . ./f.env; {show}"],
        cwd=directory, capture_output=True, env={"PATH": os.environ["PATH"]}, check=True,
    )  # fmt: skip
    return done.stdout.decode().split("\0")[:-1]


@settings(max_examples=100, deadline=None)
@given(st.lists(VALUES, min_size=1, max_size=4))
@example([f"'; touch {CANARY}; '", f"$(touch {CANARY})", 'it\'s "quoted" \\back\\slash\\ ok'])
@example(["ends with a backslash\\", "x'", "next"])
@example(["x\r", "a\r\nb", "${HOME}", "$'\\\\'", "C:\\\\dir", "`id` and 'q'"])
def test_dotenv_reads_back_in_python_dotenv_and_sh_or_is_refused(values: list[str]) -> None:
    pairs = pairs_of(values)
    refused = [formats.dotenv_problem(v) is not None for v in values]
    problems = formats.problems(pairs, "dotenv")
    assert len(problems) == sum(refused)
    refused_names = [name for (name, _), r in zip(pairs, refused, strict=True) if r]
    for problem, name in zip(problems, refused_names, strict=True):
        assert problem.startswith(f"--env: ci/s{name[1:]}: the value ")  # names, never the value
    kept = [(name, item) for (name, item), r in zip(pairs, refused, strict=True) if not r]
    kept = [(f"V{i}", item) for i, (_, item) in enumerate(kept)]  # V0.. in file order
    expected = {name: item.value.decode() for name, item in kept}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "f.env").write_bytes(formats.dotenv(kept))
        assert dotenv_values(directory / "f.env", interpolate=False) == expected
        assert dotenv_values(directory / "f.env") == expected  # interpolation on (the default)
        for shell in ("sh", "bash"):
            assert source_in(shell, directory, len(kept)) == list(expected.values())
        assert sorted(os.listdir(directory)) == ["f.env"], "sourcing ran a command"


@pytest.mark.parametrize(
    "value",
    ["it's", 'say "hi"', "C:\\dir\\file", "a\\\\b", "$HOME and `id`", "${X:y}", "$", "multi\nline\n",
     "tab\tand # hash", " padded ", "€ and é", "back\\ slash", "'", "pa'ss\"w0rd\\x"],
)  # fmt: skip
def test_dotenv_accepts_common_values(value: str) -> None:
    assert formats.dotenv_problem(value) is None
    assert formats.dotenv_quote(value)


@pytest.mark.parametrize(
    ("value", "why"),
    [("a\r\nb", "carriage return"), ("ends\\", "ends with a backslash"),
     ("it's $5", "no quoting reads the same"), ("a\\\\b`", "no quoting reads the same"),
     ("${HOME}", "python-dotenv expands"), ("x${a:-b}y", "python-dotenv expands")],
)  # fmt: skip
def test_dotenv_refuses_what_no_quoting_can_hold(value: str, why: str) -> None:
    problem = formats.dotenv_problem(value)
    assert problem is not None and why in problem and value not in problem
    with pytest.raises(ValueError, match="a dotenv value that") as info:
        formats.dotenv_quote(value)
    assert value not in str(info.value)


def _read_line(text: str, i: int, windows: bool) -> tuple[str | None, int, str | None]:
    """The runner's ReadLine: the line from ``i``, the index after it, and its line break."""
    if i >= len(text):
        return None, i, None
    lf = text.find("\n", i)
    if lf < 0:
        return text[i:], len(text), None
    crlf = text.find("\r\n", i) if windows else -1
    if 0 <= crlf < lf:
        return text[i:crlf], crlf + 2, "\r\n"
    return text[i:lf], lf + 1, "\n"


def parse_github_env(text: str, *, windows: bool = False) -> dict[str, str]:
    """$GITHUB_ENV as the runner reads it: ``NAME=value`` lines, and ``NAME<<DELIMITER`` lines
    whose value is everything up to the line that is exactly DELIMITER, less the line break before
    it. Lines end at LF, and on Windows at CRLF too."""
    out: dict[str, str] = {}
    line, i, _ = _read_line(text, 0, windows)
    while line is not None:
        if line:
            eq, heredoc = line.find("="), line.find("<<")
            if eq >= 0 and (heredoc < 0 or eq < heredoc):
                key, value = line.split("=", 1)
            else:
                assert heredoc >= 0, f"invalid line {line!r}"
                key, delimiter = line.split("<<", 1)
                assert key and delimiter, "empty name or delimiter"
                start = end = i
                temp, i, newline = _read_line(text, i, windows)
                while temp != delimiter:
                    assert temp is not None, "matching delimiter not found"
                    assert newline is not None, "EOF marker missing new line"
                    end = i - len(newline)
                    temp, i, newline = _read_line(text, i, windows)
                value = text[start:end] if end > start else ""
            assert key not in out, f"{key} set twice"
            out[key] = value
        line, i, _ = _read_line(text, i, windows)
    return out


def unescape_command_data(data: str) -> str:
    """The runner's unescaping of a workflow command's data (ActionCommand)."""
    return data.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


GITHUB_VALUES = st.lists(
    st.one_of(st.sampled_from(["\r", "\n", "\r\n", "=", "<<", "%", "%0D", "ghadelimiter_", " "]),
              st.characters(exclude_categories=("Cs",), exclude_characters="\0")),
    max_size=10,
).map("".join)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(GITHUB_VALUES, min_size=1, max_size=5))
@example(["x\r", "x\r\n", "\r", "\n", "", "a\r\r\nb\n\n", "=<<EOF", "ghadelimiter_0\nEOF"])
def test_github_env_and_masks_read_back_exactly(values: list[str]) -> None:
    pairs = pairs_of(values)
    expected = {"EARLIER": "kept", **{name: item.value.decode() for name, item in pairs}}
    for windows in (False, True):
        text = "EARLIER=kept\n" + formats.github_env(pairs, windows=windows).decode()
        assert parse_github_env(text, windows=windows) == expected
    masks = formats.github_masks(pairs).decode()
    assert "\r" not in masks and all(
        line.startswith("::add-mask::") for line in masks.split("\n")[:-1]
    )
    masked = {
        unescape_command_data(line.removeprefix("::add-mask::")) for line in masks.split("\n")[:-1]
    }
    for value in values:
        for part in [value, *re.split(r"\r\n|\n|\r", value)]:
            assert not part.strip() or part in masked


def test_a_value_ending_in_cr_is_not_doubled_on_linux() -> None:
    """The Linux runner ends lines at LF only: the CR of ``x\\r`` is read once, not twice."""
    pairs = pairs_of(["x\r"])
    linux = formats.github_env(pairs, windows=False).decode()
    windows = formats.github_env(pairs, windows=True).decode()
    assert "\nx\r\nghadelimiter_" in linux and "\nx\r\r\nghadelimiter_" in windows
    assert parse_github_env(linux) == {"V0": "x\r"} == parse_github_env(windows, windows=True)
    assert parse_github_env(windows) == {"V0": "x\r\r"}  # the Windows form, read on Linux
