"""Compiled ST behaves as IEC 61131-3 says: statements, operators, types, wrap-around."""

import math

import pytest

from plcsim.runtime import FAULT, Plc


def scan_once(plc_of, decls, body, extra=""):
    p = plc_of(decls, body, extra)
    p.scan(0)
    return p


def test_assignment_and_initial_values(plc_of):
    p = scan_once(plc_of, "a : INT := 7; b : DINT; r : REAL := 2.5; t : TIME := T#1m2s3ms; f : BOOL := TRUE;",
                  "b := a * 2;")
    assert p.read("b") == 14
    assert p.read("r") == 2.5
    assert p.read("t") == 62_003
    assert p.read("f") is True


@pytest.mark.parametrize("typ,start,op,expect", [
    ("INT", 32767, "+ 1", -32768),
    ("INT", -32768, "- 1", 32767),
    ("SINT", 127, "+ 1", -128),
    ("USINT", 255, "+ 1", 0),
    ("UINT", 0, "- 1", 65535),
    ("DINT", 2147483647, "+ 1", -2147483648),
    ("UDINT", 4294967295, "+ 1", 0),
    ("LINT", 9223372036854775807, "+ 1", -9223372036854775808),
    ("INT", 200, "* 200", 40000 - 65536),
    ("BYTE", 255, "+ 1", 0),
    ("WORD", 0, "- 1", 65535),
])
def test_integer_wraparound(plc_of, typ, start, op, expect):
    p = scan_once(plc_of, f"x : {typ} := {start};", f"x := x {op};")
    assert p.read("x") == expect


def test_intermediate_results_wrap_to_operand_type(plc_of):
    # INT * INT is INT in IEC: the product wraps before it is widened into DINT
    p = scan_once(plc_of, "a : INT := 300; b : INT := 300; d : DINT;", "d := a * b;")
    assert p.read("d") == (300 * 300 + 32768) % 65536 - 32768


def test_real_is_binary32(plc_of):
    p = scan_once(plc_of, "r : REAL; l : LREAL;", "r := 0.1; l := 0.1;")
    assert p.read("r") == 0.10000000149011612
    assert p.read("l") == 0.1
    p = scan_once(plc_of, "r : REAL := 16777216.0;", "r := r + 1.0;")
    assert p.read("r") == 16777216.0  # 2**24 + 1 is not representable in binary32


def test_integer_division_truncates_and_mod_follows_dividend(plc_of):
    p = scan_once(plc_of, "a : INT; b : INT; c : INT; d : INT;",
                  "a := -7 / 2; b := 7 / -2; c := -7 MOD 2; d := 7 MOD -2;")
    assert (p.read("a"), p.read("b"), p.read("c"), p.read("d")) == (-3, -3, -1, 1)


def test_division_by_zero_faults_the_plc_not_the_process(plc_of):
    p = plc_of("a : INT := 1; z : INT;", "a := a / z;")
    p.scan(0)
    assert p.mode == FAULT and "division by zero" in p.fault
    assert p.read("a") == 1


def test_real_division_by_zero_is_ieee(plc_of):
    p = scan_once(plc_of, "r : REAL; z : REAL; n : REAL;", "r := 1.0 / z; n := z / z;")
    assert p.read("r") == math.inf and math.isnan(p.read("n"))


def test_power_and_precedence(plc_of):
    p = scan_once(plc_of, "r : REAL; s : REAL; i : INT;",
                  "r := 2.0 ** 3.0 * 2.0; s := -2.0 ** 2.0; i := 2 + 3 * 4 - 6 / 2;")
    assert p.read("r") == 16.0
    assert p.read("s") == 4.0  # unary minus binds tighter than ** in IEC 61131-3
    assert p.read("i") == 11


def test_boolean_and_bitwise_operators(plc_of):
    p = scan_once(plc_of, "a : BOOL := TRUE; b : BOOL; x : BOOL; y : BOOL; z : BOOL; n : BOOL; w : WORD := 16#F0F0; v : WORD;",
                  "x := a AND b; y := a OR b; z := a XOR TRUE; n := NOT a; v := (w AND 16#FF00) OR 16#000F; w := NOT w;")
    assert (p.read("x"), p.read("y"), p.read("z"), p.read("n")) == (False, True, False, False)
    assert p.read("v") == 0xF00F
    assert p.read("w") == 0x0F0F


def test_comparisons(plc_of):
    p = scan_once(plc_of, "a : INT := 3; r : REAL := 2.5; c : ARRAY[1..6] OF BOOL;",
                  "c[1] := a = 3; c[2] := a <> 3; c[3] := r < a; c[4] := a >= 3; c[5] := T#1s > T#999ms; c[6] := a <= 2;")
    assert p.read("c") == [True, False, True, True, True, False]


def test_if_elsif_else(plc_of):
    body = "IF a > 10 THEN r := 1; ELSIF a > 5 THEN r := 2; ELSE r := 3; END_IF;"
    for a, r in ((11, 1), (6, 2), (5, 3)):
        p = scan_once(plc_of, f"a : INT := {a}; r : INT;", body)
        assert p.read("r") == r


def test_case_with_lists_ranges_constants_and_else(plc_of):
    body = """CASE s OF
      1, 2: r := 10;
      3..5, 7: r := 20;
      K: r := 30;
    ELSE r := 40;
    END_CASE;"""
    for s, r in ((1, 10), (2, 10), (4, 20), (7, 20), (9, 30), (6, 40), (-1, 40)):
        p = Plc(f"PROGRAM Main VAR s : INT := {s}; r : INT; END_VAR VAR CONSTANT K : INT := 9; END_VAR {body} END_PROGRAM")
        p.scan(0)
        assert p.read("r") == r, s


def test_for_by_exit_and_final_value(plc_of):
    p = scan_once(plc_of, "i : INT; s : INT; j : INT; k : INT;",
                  "FOR i := 1 TO 10 BY 3 DO s := s + i; END_FOR; "
                  "FOR j := 10 TO 1 BY -1 DO IF j = 4 THEN EXIT; END_IF; k := k + 1; END_FOR;")
    assert p.read("s") == 1 + 4 + 7 + 10
    assert p.read("i") == 13
    assert p.read("k") == 6 and p.read("j") == 4


def test_for_with_variable_step_and_empty_range(plc_of):
    p = scan_once(plc_of, "i : INT; s : INT; st : INT := -2; n : INT;",
                  "FOR i := 6 TO 0 BY st DO s := s + 1; END_FOR; FOR i := 5 TO 1 DO n := n + 1; END_FOR;")
    assert p.read("s") == 4 and p.read("n") == 0


def test_while_repeat_continue(plc_of):
    p = scan_once(plc_of, "i : INT; n : INT; m : INT; odd : INT;",
                  "WHILE i < 5 DO i := i + 1; END_WHILE; "
                  "REPEAT n := n + 1; UNTIL n >= 3 END_REPEAT; "
                  "REPEAT m := m + 1; UNTIL TRUE END_REPEAT; "
                  "i := 0; WHILE i < 10 DO i := i + 1; IF i MOD 2 = 0 THEN CONTINUE; END_IF; odd := odd + 1; END_WHILE;")
    assert (p.read("i"), p.read("n"), p.read("m"), p.read("odd")) == (10, 3, 1, 5)


def test_return_ends_the_scan_body(plc_of):
    p = scan_once(plc_of, "a : INT; b : INT;", "a := 1; IF a = 1 THEN RETURN; END_IF; b := 1;")
    assert p.read("a") == 1 and p.read("b") == 0


def test_endless_loop_trips_the_watchdog(plc_of):
    p = plc_of("i : INT;", "WHILE TRUE DO i := i + 1; END_WHILE;")
    p.scan(0)
    assert p.mode == FAULT and "watchdog" in p.fault


def test_arrays_bounds_multi_dim_and_init(plc_of):
    p = scan_once(plc_of, "a : ARRAY[1..5] OF INT := [10, 2(7)]; m : ARRAY[0..1, 0..2] OF INT; i : INT := 1; s : INT;",
                  "m[1, 2] := 5; m[0, 1] := a[3]; s := a[i] + a[2];")
    assert p.read("a") == [10, 7, 7, 0, 0]
    assert p.read("m") == [0, 7, 0, 0, 0, 5]
    assert p.read("s") == 17


def test_array_index_out_of_bounds_faults(plc_of):
    p = plc_of("a : ARRAY[1..3] OF INT; i : INT := 0;", "a[i] := 1;")
    p.scan(0)
    assert p.mode == FAULT and "outside [1..3]" in p.fault


def test_user_function_block_and_function(plc_of):
    extra = """
    FUNCTION_BLOCK Acc
    VAR_INPUT add : INT; END_VAR
    VAR_OUTPUT sum : DINT; END_VAR
    VAR_IN_OUT io : INT; END_VAR
    sum := sum + add; io := io * 2;
    END_FUNCTION_BLOCK
    FUNCTION Clamp : INT
    VAR_INPUT v : INT; lo : INT; hi : INT := 100; END_VAR
    IF v < lo THEN Clamp := lo; RETURN; END_IF;
    Clamp := MIN(v, hi);
    END_FUNCTION
    """
    p = plc_of("acc : Acc; out : DINT; x : INT := 1; c1 : INT; c2 : INT; c3 : INT;",
               "acc(add := 5, sum => out, io := x); c1 := Clamp(500, 0); c2 := Clamp(v := -4, lo := 1); c3 := Clamp(50, 0, 40);",
               extra)
    p.scan(0)
    p.scan(10)
    assert p.read("out") == 10 and p.read("acc.sum") == 10
    assert p.read("x") == 4
    assert (p.read("c1"), p.read("c2"), p.read("c3")) == (100, 1, 40)


def test_standard_functions(plc_of):
    p = scan_once(plc_of, """a : INT; b : REAL; c : INT; d : INT; e : INT; f : INT; g : WORD; h : WORD;
                  i : INT; j : REAL; k : DINT; l : BOOL; m : INT; n : REAL; o : WORD;""",
                  """a := ABS(-5); b := SQRT(16.0); c := MIN(3, 1, 2); d := MAX(3, 9); e := LIMIT(0, 150, 100);
                  f := SEL(TRUE, 1, 2); g := SHL(WORD#16#8001, 1); h := SHR(WORD#16#8001, 4); i := MUX(2, 10, 20, 30);
                  j := INT_TO_REAL(a); k := REAL_TO_DINT(2.5); l := INT_TO_BOOL(a); m := REAL_TO_INT(-2.5);
                  n := EXPT(2.0, 10); o := ROL(WORD#16#8001, 1);""")
    assert p.read("a") == 5 and p.read("b") == 4.0 and p.read("c") == 1 and p.read("d") == 9
    assert p.read("e") == 100 and p.read("f") == 2
    assert p.read("g") == 0x0002 and p.read("h") == 0x0800 and p.read("i") == 30
    assert p.read("j") == 5.0 and p.read("k") == 3 and p.read("l") is True and p.read("m") == -3
    assert p.read("n") == 1024.0 and p.read("o") == 0x0003


def test_conversions_wrap_and_time(plc_of):
    p = scan_once(plc_of, "a : INT; b : SINT; t : TIME; d : DINT; u : UINT;",
                  "a := DINT_TO_INT(70000); b := INT_TO_SINT(200); t := DINT_TO_TIME(1500); d := TIME_TO_DINT(T#2s); u := INT_TO_UINT(-1);")
    assert (p.read("a"), p.read("b"), p.read("t"), p.read("d"), p.read("u")) == (70000 - 65536, -56, 1500, 2000, 65535)


def test_time_arithmetic(plc_of):
    p = scan_once(plc_of, "t : TIME := T#1s; u : TIME; v : TIME;", "u := t + T#250ms; v := t * 3;")
    assert p.read("u") == 1250 and p.read("v") == 3000


def test_case_insensitive_identifiers(plc_of):
    p = scan_once(plc_of, "Motor_On : BOOL;", "motor_on := TRUE; MOTOR_ON := NOT Motor_On OR TRUE;")
    assert p.read("MOTOR_ON") is True and p.read("Main.motor_on") is True


def test_comments_and_pragmas_are_ignored(plc_of):
    p = scan_once(plc_of, "a : INT; (* block *) // line", "a := 1; (* a := 2; *) // a := 3;")
    assert p.read("a") == 1
