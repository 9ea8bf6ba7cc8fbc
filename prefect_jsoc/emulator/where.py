"""The ``[? ... ?]`` keyword filter of DRMS record sets: a small SQL ``WHERE`` subset.

Supported: comparisons (``= == != <> < <= > >=``) between a keyword and a literal (quoted or
not) or another keyword, ``IN (...)``, ``AND``, ``OR``, ``NOT``, parentheses, and the DRMS
function ``drms.image_exists(quality)`` that the export CGI adds. Literals are compared with the
keyword's type: numbers for numeric keywords (``'0'`` and ``0x400`` both work), times for time
keywords, text otherwise. A missing value (``MISSING``) never matches, as SQL ``NULL``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

from .catalog import KeywordDef, SeriesDef
from .drmstime import TimeParseError, parse_time
from .records import Record, keyword_raw

__all__ = ["Predicate", "WhereError", "compile_where"]

Predicate = Callable[[SeriesDef, Record], bool]


class WhereError(ValueError):
    """Raised for a filter the database would reject (syntax, unknown column, bad literal)."""


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>[-+]?(?:0[xX][0-9a-fA-F]+|\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+))"
    r"|(?P<op><=|>=|<>|!=|==|=|<|>)|(?P<paren>[(),])|(?P<ident>[A-Za-z_][\w.]*))"
)
_OPS = {
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
    "<>": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise WhereError(f'syntax error at or near "{text[pos : pos + 10]}"')
        kind = m.lastgroup
        tokens.append((kind, m.group(kind)))  # type: ignore[arg-type]
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, series: SeriesDef, text: str) -> None:
        self.series = series
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise WhereError("syntax error at end of input")
        self.i += 1
        return tok

    def word(self, w: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "ident" and tok[1].upper() == w:
            self.i += 1
            return True
        return False

    def parse(self) -> Predicate:
        pred = self.expr()
        if self.peek() is not None:
            raise WhereError(f'syntax error at or near "{self.peek()[1]}"')  # type: ignore[index]
        return pred

    def expr(self) -> Predicate:
        left = self.term()
        while self.word("OR"):
            right = self.term()
            left = (lambda a, b: lambda s, r: a(s, r) or b(s, r))(left, right)
        return left

    def term(self) -> Predicate:
        left = self.factor()
        while self.word("AND"):
            right = self.factor()
            left = (lambda a, b: lambda s, r: a(s, r) and b(s, r))(left, right)
        return left

    def factor(self) -> Predicate:
        if self.word("NOT"):
            inner = self.factor()
            return lambda s, r: not inner(s, r)
        tok = self.peek()
        if tok == ("paren", "("):
            self.take()
            inner = self.expr()
            if self.take() != ("paren", ")"):
                raise WhereError("syntax error: missing )")
            return inner
        return self.comparison()

    def keyword(self, name: str) -> KeywordDef:
        kw = self.series.keyword(name)
        if kw is None:
            raise WhereError(f'column "{name.lower()}" does not exist')
        return kw

    def comparison(self) -> Predicate:
        kind, text = self.take()
        if kind != "ident":
            raise WhereError(f'syntax error at or near "{text}"')
        if text.lower() == "drms.image_exists":
            self.take()
            self.take()
            self.take()  # ( quality )
            return lambda s, r: (
                not (keyword_raw(s, r, s.keyword("QUALITY")) or 0) & 0x80000000 if s.keyword("QUALITY") else True
            )
        kw = self.keyword(text)
        if self.word("IN"):
            if self.take() != ("paren", "("):
                raise WhereError("syntax error: expected (")
            values = []
            while True:
                values.append(self.literal(kw, self.take()))
                sep = self.take()
                if sep == ("paren", ")"):
                    break
                if sep != ("paren", ","):
                    raise WhereError("syntax error in IN list")
            return lambda s, r: (v := keyword_raw(s, r, kw)) is not None and v in values
        kind, op = self.take()
        if kind != "op":
            raise WhereError(f'syntax error at or near "{op}"')
        fn = _OPS[op]
        rtok = self.take()
        if rtok[0] == "ident" and self.series.keyword(rtok[1]) is not None:
            other = self.series.keyword(rtok[1])

            def both(s: SeriesDef, r: Record) -> bool:
                a, b = keyword_raw(s, r, kw), keyword_raw(s, r, other)  # type: ignore[arg-type]
                return a is not None and b is not None and fn(a, b)

            return both
        value = self.literal(kw, rtok)
        return lambda s, r: (v := keyword_raw(s, r, kw)) is not None and fn(v, value)

    def literal(self, kw: KeywordDef, tok: tuple[str, str]) -> float | str:
        kind, text = tok
        if kind == "str":
            text = text[1:-1].replace("''", "'")
        elif kind not in ("num", "ident"):
            raise WhereError(f'syntax error at or near "{text}"')
        if kw.type == "time":
            try:
                return parse_time(text, "UTC" if kw.units in ("ISO", "UTC") else "TAI")
            except TimeParseError as exc:
                raise WhereError(f'invalid input syntax for type double precision: "{text}"') from exc
        if kw.is_numeric:
            try:
                return float(int(text, 0)) if text.lower().startswith(("0x", "-0x")) else float(text)
            except ValueError as exc:
                kind_name = "integer" if kw.type in ("int", "short", "longlong") else "double precision"
                raise WhereError(f'invalid input syntax for type {kind_name}: "{text}"') from exc
        return text


def compile_where(series: SeriesDef, text: str) -> Predicate:
    """Compile the inside of ``[? ... ?]`` into a predicate over records.

    Raises:
        WhereError: For syntax errors, unknown keywords and literals of the wrong type.
    """
    if not text.strip():
        raise WhereError("syntax error at end of input")
    return _Parser(series, text).parse()
