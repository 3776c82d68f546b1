"""Compile-time and run-time errors of ST programs."""

from __future__ import annotations


class StError(Exception):
    """One located compile error: ``file:line:col: message``."""

    def __init__(self, filename: str, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.filename, self.line, self.column, self.message = filename, line, column, message

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.column}: {self.message}"


class StCompileError(Exception):
    """All errors found in one source file (at least one)."""

    def __init__(self, errors: list[StError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


class PlcRuntimeError(Exception):
    """A fault while executing a scan (division by zero, array bounds, watchdog).

    The runtime puts the PLC into FAULT, as a real controller would.
    """
