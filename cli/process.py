"""The `mlgate` process itself: its thread settings before any numerical library loads, and a fast exit.

`configure()` runs first, before numpy, LightGBM or torch is imported: an OpenMP worker that finished its share
sleeps instead of spinning (`OMP_WAIT_POLICY=PASSIVE`), and OpenBLAS runs in the calling thread
(`OPENBLAS_NUM_THREADS=1`), so two audits on a two-core machine do not burn each other's cores waiting. Each is
only a default: a value already in the environment is kept.

`finish(code)` ends the process once the command has written everything: it flushes stdout and stderr and exits
at once, without the interpreter's teardown (unloading torch, numba and DuckDB and joining their thread pools
takes seconds and changes nothing a command wrote: every file is closed and every trail write committed before
the command returns).
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import NoReturn

THREAD_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_NUM_THREADS": "1"}


def configure() -> None:
    """Set the thread defaults the environment leaves unset (effective only before the libraries load)."""
    for name, value in THREAD_DEFAULTS.items():
        os.environ.setdefault(name, value)


def finish(code: int) -> NoReturn:
    """Flush the standard streams and exit with `code`, skipping the interpreter's teardown."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream: nothing more can reach it
            stream.flush()
    os._exit(code)
