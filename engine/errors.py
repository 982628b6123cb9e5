"""One root error for every input mlgate cannot use, so both front ends report it the same way.

A user's mistake (a spec, policy, data file, model file or flag mlgate cannot use) is raised as a
`MlgateError` subclass carrying one line that names the file and the place in it, plus an optional hint.
The CLI prints that line and exits with the error's `exit_code`; anything else is a bug and keeps its traceback.

Exit codes (the README's "Exit codes" section says the same): 0 ready (or intact), 1 a blocking rule failed
(or the trail is broken), 2 an input mlgate cannot use, 3 the trail stayed busy past the lock timeout (try
again), 4 a file could not be written (a full disk, no permission), 130 interrupted.
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_BUSY, EXIT_WRITE_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


class MlgateError(Exception):
    """An input mlgate cannot use: one clear line, never a traceback."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        text = self.message if not self.hint else f"{self.message} ({self.hint})"
        return " ".join(text.split())


class SpecError(MlgateError):
    """The audit spec (file or flags) is malformed or invalid."""


class PolicyError(MlgateError):
    """A policy file is malformed or invalid."""


class DataError(MlgateError):
    """The data file is missing, unreadable or unfit for a binary-classification audit."""


class TrailError(MlgateError):
    """The audit trail file cannot be opened or written."""


class ModelError(MlgateError):
    """A model file to audit is missing, unreadable, a pickle, or unfit for the audited data."""


class WriteError(MlgateError):
    """A file mlgate writes (a card, an artifact, an export, a report) could not be written: a full disk, a
    read-only folder, no permission. Nothing half-written is left at its name."""

    exit_code = EXIT_WRITE_FAILED

    @classmethod
    def of(cls, path: object, exc: OSError, what: str = "file") -> WriteError:
        """One line naming the path and the operating system's cause."""
        return cls(f"{path}: cannot write the {what}: {exc.strerror or type(exc).__name__}")


class TrailBusyError(TrailError):
    """Another process held the trail's lock for longer than the lock timeout: nothing is wrong, try again."""

    exit_code = EXIT_BUSY
