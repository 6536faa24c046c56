#!/usr/bin/env python3
"""What a recently freed inode costs the next file creations on this file system.

Usage: ``.venv/bin/python bench/bench_inodes.py [--dir D] [--counts 0,200,800] [--quick]``

For each count N, in a new directory of its own: create N empty files, wait a second, remove them,
wait a second, then time 200 creations of new files there (median and mean, in us). On ext4
without a journal the kernel's inode allocator skips every inode freed in the last minute (six
while its inode-table block is not yet written back), each skip a buffer lookup, so the time
grows with N; with a journal, or on another file system, it does not. It is why back-to-back runs
of ``bench_writes.py`` disagree (its ``[warning]`` line) and a reason its figures with fsync off
spread (docs/ARCHITECTURE.md, "The index"). Nothing is asserted.

The inodes it frees weigh on file creation in the same block groups for up to six minutes: run
the other benches before it, or six minutes after it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_writes import journal

CREATIONS = 200


def creation_us(directory: Path, freed: int) -> tuple[float, float]:
    """Median and mean us of a file creation in ``directory`` after ``freed`` files were removed
    from it a second before."""
    directory.mkdir()
    for i in range(freed):
        os.close(os.open(directory / f"f{i}", os.O_CREAT | os.O_WRONLY, 0o600))
    time.sleep(1.1)  # an inode counts as recently freed from the next second on
    for i in range(freed):
        os.unlink(directory / f"f{i}")
    time.sleep(1.1)
    times = []
    for i in range(CREATIONS):
        start = time.perf_counter()
        fd = os.open(directory / f"g{i}", os.O_CREAT | os.O_WRONLY, 0o600)
        times.append(time.perf_counter() - start)
        os.close(fd)
    return statistics.median(times) * 1e6, statistics.mean(times) * 1e6


def main() -> None:
    """Time file creations after each count of freed files; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dir", type=Path, help="work under this directory (default: the temp dir)"
    )
    parser.add_argument("--counts", default="0,200,800", help="files freed before each series")
    parser.add_argument("--quick", action="store_true", help="counts 0 and 50 (a smoke test)")
    args = parser.parse_args()
    counts = [0, 50] if args.quick else [int(c) for c in args.counts.split(",")]
    base = Path(tempfile.mkdtemp(prefix="gitsm-bench-inodes-", dir=args.dir))
    print(f"[inodes] {base} on {journal(base)}; {CREATIONS} creations after each count")
    try:
        for count in counts:
            median, mean = creation_us(base / f"after-{count}", count)
            print(f"[inodes] {count:5d} files freed a second before: a creation takes "
                  f"{median:7.1f} us (median), {mean:7.1f} us (mean)")  # fmt: skip
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
