"""Parse Structured Text with blark's IEC 61131-3 grammar.

blark's grammar (TwinCAT flavour) has no exponent operator, which IEC
61131-3 defines as ``**`` binding tighter than ``*`` and looser than unary
minus/NOT. We load blark's grammar text, add that one precedence level, and
teach blark's transformer the new rule; everything else is blark's.
"""

from __future__ import annotations

import importlib.resources
from functools import lru_cache

import lark
from blark import transform as tf
from blark import util as blark_util

_OLD_TERM = "expression_term: unary_expression ( MULTIPLY_OPERATOR unary_expression )*"
_NEW_TERM = (
    "expression_term: power_expression ( MULTIPLY_OPERATOR power_expression )*\n\n"
    "power_expression: unary_expression ( POWER_OPERATOR unary_expression )*\n\n"
    'POWER_OPERATOR.2: "**"'
)


class StSyntaxError(Exception):
    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line, self.column, self.message = line, column, message


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    grammar = importlib.resources.files("blark").joinpath("iec.lark").read_text()
    if _OLD_TERM not in grammar:  # blark changed its grammar: fail loudly, not silently
        raise RuntimeError("blark grammar layout changed; update plcsim.st.parser")
    grammar = grammar.replace(_OLD_TERM, _NEW_TERM)
    return lark.Lark(
        grammar,
        parser="earley",
        maybe_placeholders=True,
        propagate_positions=True,
        start="iec_source",
    )


class _Transformer(tf.GrammarTransformer):
    def power_expression(self, data, children, meta):  # noqa: D401 - lark callback
        result = tf.BinaryOperation.from_lark(*children)
        if isinstance(result, tf.BinaryOperation):
            result.meta = tf.Meta.from_lark(meta)
        return result


def parse(source: str) -> tf.SourceCode:
    """Parse ST source text into blark's dataclasses; raise StSyntaxError with a location."""
    _comments, cleaned = blark_util.find_and_clean_comments(source)
    try:
        tree = _parser().parse(cleaned)
    except lark.UnexpectedInput as exc:
        line, col = exc.line, exc.column
        if line is None or line < 1:  # end of input: point at the last line
            line, col = max(1, source.rstrip().count("\n") + 1), 1
        raise StSyntaxError(line, col, _describe(exc, cleaned)) from None
    except lark.LarkError as exc:  # pragma: no cover - grammar-level failures
        raise StSyntaxError(1, 1, f"syntax error: {exc}") from None
    return _Transformer(comments=[], source_code=source).transform(tree)


def _describe(exc: lark.UnexpectedInput, text: str) -> str:
    if isinstance(exc, lark.UnexpectedEOF):
        return "syntax error: unexpected end of file (missing END_...?)"
    token = None
    if isinstance(exc, lark.UnexpectedToken):
        token = str(exc.token)
    elif isinstance(exc, lark.UnexpectedCharacters):
        lines = text.splitlines()
        line = lines[exc.line - 1] if 0 < exc.line <= len(lines) else ""
        token = line[exc.column - 1:exc.column + 11].split()[0] if line[exc.column - 1:].strip() else ""
    expected = sorted(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or [])
    hint = ""
    if expected and len(expected) <= 6:
        hint = "; expected " + ", ".join(_pretty_terminal(e) for e in expected)
    elif any(e in ("SEMICOLON", '";"') for e in expected) or token in ("END_IF", "END_VAR"):
        hint = "; missing ';'?"
    return f"syntax error near {token!r}{hint}"


def _pretty_terminal(name: str) -> str:
    pretty = {"SEMICOLON": "';'", "IDENTIFIER": "identifier", "ASSIGNMENT": "':='", "LPAR": "'('", "RPAR": "')'"}
    return pretty.get(name, name.strip("_").lower())
