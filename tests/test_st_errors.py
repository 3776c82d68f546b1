"""Every class of ST error is reported as file:line:col: message, never a traceback."""

import subprocess
import sys

import pytest

from plcsim.st.compiler import compile_source
from plcsim.st.errors import StCompileError

CASES = [
    # (name, source, line, fragment)
    ("syntax", "PROGRAM Main\nVAR x : INT; END_VAR\nx := ;\nEND_PROGRAM", 3, "syntax error"),
    ("missing end", "PROGRAM Main\nVAR x : INT; END_VAR\nx := 1;\n", 3, "syntax error"),
    ("undeclared", "PROGRAM Main\nVAR x : INT; END_VAR\nx := y + 1;\nEND_PROGRAM", 3, "undeclared variable y"),
    ("unknown type", "PROGRAM Main\nVAR\n  x : FOO;\nEND_VAR\nEND_PROGRAM", 3, "unknown type FOO"),
    ("unsupported type", "PROGRAM Main\nVAR\n  s : STRING;\nEND_VAR\nEND_PROGRAM", 3, "not supported"),
    ("narrowing", "PROGRAM Main\nVAR a : INT; b : DINT; END_VAR\na := b;\nEND_PROGRAM", 3, "narrowing from DINT to INT"),
    ("real to int", "PROGRAM Main\nVAR a : INT; r : REAL; END_VAR\na := r;\nEND_PROGRAM", 3, "use REAL_TO_INT"),
    ("bool mix", "PROGRAM Main\nVAR a : INT; b : BOOL; END_VAR\na := b;\nEND_PROGRAM", 3, "cannot assign BOOL to INT"),
    ("literal range", "PROGRAM Main\nVAR a : INT; END_VAR\na := 40000;\nEND_PROGRAM", 3, "out of range for INT"),
    ("init range", "PROGRAM Main\nVAR\n  a : SINT := 300;\nEND_VAR\nEND_PROGRAM", 3, "out of range for SINT"),
    ("constant write", "PROGRAM Main\nVAR CONSTANT K : INT := 1; END_VAR\nK := 2;\nEND_PROGRAM", 3, "CONSTANT"),
    ("condition type", "PROGRAM Main\nVAR a : INT; END_VAR\nIF a THEN a := 1; END_IF;\nEND_PROGRAM", 3, "condition must be BOOL"),
    ("duplicate var", "PROGRAM Main\nVAR a : INT;\n a : BOOL; END_VAR\nEND_PROGRAM", 3, "declared twice"),
    ("bad location", "PROGRAM Main\nVAR\n  a AT %QX0.9 : BOOL;\nEND_VAR\nEND_PROGRAM", 3, "bit number"),
    ("location type", "PROGRAM Main\nVAR\n  a AT %IW0 : BOOL;\nEND_VAR\nEND_PROGRAM", 3, "16-bit"),
    ("unsupported location", "PROGRAM Main\nVAR\n  a AT %ID0 : DINT;\nEND_VAR\nEND_PROGRAM", 3, "only %MD"),
    ("location range", "PROGRAM Main\nVAR\n  a AT %MW1024 : INT;\nEND_VAR\nEND_PROGRAM", 3, "0..1023"),
    ("unknown function", "PROGRAM Main\nVAR a : INT; END_VAR\na := FOO(1);\nEND_PROGRAM", 3, "unknown function FOO"),
    ("fb as function", "PROGRAM Main\nVAR a : BOOL; END_VAR\na := TON(IN := TRUE);\nEND_PROGRAM", 3, "function block type"),
    ("bad fb input", "PROGRAM Main\nVAR t : TON; END_VAR\nt(XX := TRUE);\nEND_PROGRAM", 3, "TON has no member XX"),
    ("fb output write", "PROGRAM Main\nVAR t : TON; END_VAR\nt.Q := TRUE;\nEND_PROGRAM", 3, "cannot assign to output Q"),
    ("exit outside loop", "PROGRAM Main\nVAR a : INT; END_VAR\nEXIT;\nEND_PROGRAM", 3, "EXIT outside a loop"),
    ("case duplicate", "PROGRAM Main\nVAR a : INT; END_VAR\nCASE a OF 1: a := 2; 1: a := 3; END_CASE;\nEND_PROGRAM", 3, "appears twice"),
    ("case selector", "PROGRAM Main\nVAR r : REAL; END_VAR\nCASE r OF 1: r := 2.0; END_CASE;\nEND_PROGRAM", 3, "CASE selector must be an integer"),
    ("for step zero", "PROGRAM Main\nVAR i : INT; END_VAR\nFOR i := 1 TO 2 BY 0 DO i := i; END_FOR;\nEND_PROGRAM", 3, "step must not be 0"),
    ("index const", "PROGRAM Main\nVAR a : ARRAY[1..3] OF INT; END_VAR\na[4] := 1;\nEND_PROGRAM", 3, "outside [1..3]"),
    ("no program", "FUNCTION F : INT\nVAR_INPUT a : INT; END_VAR\nF := a;\nEND_FUNCTION", 1, "no PROGRAM"),
    ("two programs", "PROGRAM A\nEND_PROGRAM\nPROGRAM B\nEND_PROGRAM", 3, "several PROGRAMs"),
    ("recursive fb", "FUNCTION_BLOCK X\nVAR me : X; END_VAR\nEND_FUNCTION_BLOCK\nPROGRAM Main\nVAR x : X; END_VAR\nEND_PROGRAM", 1, "contains itself"),
    ("sub-ms time", "PROGRAM Main\nVAR t : TIME; END_VAR\nt := T#1.5ms;\nEND_PROGRAM", 3, "sub-millisecond"),
    ("pointer", "PROGRAM Main\nVAR a : INT; END_VAR\na := a^;\nEND_PROGRAM", 3, "dereference"),
    ("global vars", "VAR_GLOBAL\n  g : INT;\nEND_VAR\nPROGRAM Main\nEND_PROGRAM", 1, "unsupported declaration"),
    ("set statement", "PROGRAM Main\nVAR a : BOOL; END_VAR\na S= TRUE;\nEND_PROGRAM", 3, "unsupported statement"),
    ("function output", "FUNCTION F : INT\nVAR_OUTPUT o : INT; END_VAR\nF := 1;\nEND_FUNCTION\nPROGRAM Main\nEND_PROGRAM", 2, "VAR_OUTPUT in a FUNCTION"),
    ("located in fb", "FUNCTION_BLOCK X\nVAR\n  a AT %QX0.0 : BOOL;\nEND_VAR\nEND_FUNCTION_BLOCK\nPROGRAM Main\nEND_PROGRAM", 3, "only allowed in a PROGRAM"),
    ("time from int", "PROGRAM Main\nVAR t : TIME; END_VAR\nt := 5;\nEND_PROGRAM", 3, "cannot assign"),
    ("mod real", "PROGRAM Main\nVAR r : REAL; END_VAR\nr := r MOD 2.0;\nEND_PROGRAM", 3, "MOD needs integers"),
]


@pytest.mark.parametrize("name,src,line,fragment", CASES, ids=[c[0] for c in CASES])
def test_error_is_located(name, src, line, fragment):
    with pytest.raises(StCompileError) as ei:
        compile_source(src, "prog.st")
    errors = ei.value.errors
    assert any(e.line == line and fragment in e.message for e in errors), [str(e) for e in errors]
    first = str(errors[0])
    assert first.startswith("prog.st:") and first.count(":") >= 3


def test_all_errors_of_a_file_are_reported():
    src = "PROGRAM Main\nVAR a : INT; END_VAR\na := b;\na := c;\nEND_PROGRAM"
    with pytest.raises(StCompileError) as ei:
        compile_source(src, "p.st")
    assert [e.line for e in ei.value.errors] == [3, 4]


def test_cli_check_prints_located_errors_without_traceback(tmp_path):
    f = tmp_path / "bad.st"
    f.write_text("PROGRAM Main\nVAR a : INT; END_VAR\na := b;\nEND_PROGRAM\n")
    r = subprocess.run([sys.executable, "-m", "plcsim.cli", "check", str(f)], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.strip() == f"{f}:3:6: undeclared variable b"
    assert "Traceback" not in r.stderr
    missing = subprocess.run([sys.executable, "-m", "plcsim.cli", "check", str(tmp_path / "nope.st")],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr
