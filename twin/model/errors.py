"""One error type for every bad input: it names the file, the line and the field."""

from __future__ import annotations


class ScenarioError(Exception):
    def __init__(self, file: str, line: int, field: str, message: str) -> None:
        super().__init__(message)
        self.file, self.line, self.field, self.message = file, line, field, message

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
