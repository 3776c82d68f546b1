import pytest

from plcsim.runtime import Plc


def program(decls: str, body: str, extra: str = "") -> str:
    return f"{extra}\nPROGRAM Main\nVAR\n{decls}\nEND_VAR\n{body}\nEND_PROGRAM\n"


@pytest.fixture
def plc_of():
    """Build a PLC from declarations and a body: plc_of("x : INT;", "x := x + 1;")."""

    def make(decls: str, body: str, extra: str = "", cycle_ms: int = 10) -> Plc:
        return Plc(program(decls, body, extra), cycle_ms=cycle_ms)

    return make
