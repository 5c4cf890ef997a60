"""Go's ``encoding/json`` as the API server's error messages show it.

Upstream checks a request body with Go's JSON scanner before decoding it, and its error messages quote the
scanner's (``invalid character 'n' looking for beginning of object key string``, ``unexpected end of
JSON input``). :func:`syntax_error` runs the same state machine over the raw bytes, so kubesim refuses
exactly the bodies Go refuses (Python's decoder also accepts ``NaN`` and ``Infinity``) with the same words.
"""

from __future__ import annotations

from collections.abc import Callable

_SPACE = frozenset(b" \t\r\n")
_DIGITS = frozenset(b"0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_MAX_DEPTH = 10000

# Where the scanner is inside a composite value.
_OBJECT_KEY, _OBJECT_VALUE, _ARRAY_VALUE = range(3)


def quote_char(c: int) -> str:
    """Go's ``quoteChar``: the byte as a Go character literal (``'n'``, ``'\\n'``, ``'\\x00'``)."""
    if c == ord("'"):
        return "'\\''"
    if c == ord('"'):
        return "'\"'"
    return "'" + _go_quote_rune(c) + "'"


def _go_quote_rune(r: int) -> str:
    """The inside of ``strconv.Quote(string(rune(r)))`` for r < 256."""
    named = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v", 92: "\\\\"}
    if r in named:
        return named[r]
    if r < 0x20 or r == 0x7F:
        return f"\\x{r:02x}"
    if 0x80 <= r < 0xA1 or r == 0xAD:  # not printable for Go's unicode.IsPrint
        return f"\\u{r:04x}"
    return chr(r)


class _Scanner:
    def __init__(self) -> None:
        self.step: Callable[[int], bool] = self.begin_value
        self.stack: list[int] = []
        self.end_top = False
        self.error: str | None = None

    def fail(self, c: int, context: str) -> bool:
        self.error = f"invalid character {quote_char(c)} {context}"
        return False

    def push(self, state: int) -> bool:
        self.stack.append(state)
        if len(self.stack) > _MAX_DEPTH:
            self.error = "exceeded max depth"
            return False
        return True

    def pop(self) -> None:
        self.stack.pop()
        if not self.stack:
            self.step = self.end_top_state
            self.end_top = True
        else:
            self.step = self.end_value

    # -- values
    def begin_value_or_empty(self, c: int) -> bool:
        if c in _SPACE:
            return True
        if c == ord("]"):
            return self.end_value(c)
        return self.begin_value(c)

    def begin_value(self, c: int) -> bool:
        if c in _SPACE:
            return True
        if c == ord("{"):
            self.step = self.begin_string_or_empty
            return self.push(_OBJECT_KEY)
        if c == ord("["):
            self.step = self.begin_value_or_empty
            return self.push(_ARRAY_VALUE)
        if c == ord('"'):
            self.step = self.in_string
        elif c == ord("-"):
            self.step = self.neg
        elif c == ord("0"):
            self.step = self.zero
        elif c in b"123456789":
            self.step = self.one
        elif c in b"tfn":
            word = {ord("t"): b"true", ord("f"): b"false", ord("n"): b"null"}[c]
            self.step = self.literal(word, 1)
        else:
            return self.fail(c, "looking for beginning of value")
        return True

    def begin_string_or_empty(self, c: int) -> bool:
        if c in _SPACE:
            return True
        if c == ord("}"):
            self.stack[-1] = _OBJECT_VALUE
            return self.end_value(c)
        return self.begin_string(c)

    def begin_string(self, c: int) -> bool:
        if c in _SPACE:
            return True
        if c == ord('"'):
            self.step = self.in_string
            return True
        return self.fail(c, "looking for beginning of object key string")

    def end_value(self, c: int) -> bool:
        if not self.stack:
            self.step = self.end_top_state
            self.end_top = True
            return self.end_top_state(c)
        if c in _SPACE:
            self.step = self.end_value
            return True
        top = self.stack[-1]
        if top == _OBJECT_KEY:
            if c == ord(":"):
                self.stack[-1] = _OBJECT_VALUE
                self.step = self.begin_value
                return True
            return self.fail(c, "after object key")
        if top == _OBJECT_VALUE:
            if c == ord(","):
                self.stack[-1] = _OBJECT_KEY
                self.step = self.begin_string
                return True
            if c == ord("}"):
                self.pop()
                return True
            return self.fail(c, "after object key:value pair")
        if c == ord(","):
            self.step = self.begin_value
            return True
        if c == ord("]"):
            self.pop()
            return True
        return self.fail(c, "after array element")

    def end_top_state(self, c: int) -> bool:
        if c not in _SPACE:
            return self.fail(c, "after top-level value")
        return True

    # -- strings
    def in_string(self, c: int) -> bool:
        if c == ord('"'):
            self.step = self.end_value
        elif c == ord("\\"):
            self.step = self.in_string_escape
        elif c < 0x20:
            return self.fail(c, "in string literal")
        return True

    def in_string_escape(self, c: int) -> bool:
        if c in b'bfnrt\\/"':
            self.step = self.in_string
            return True
        if c == ord("u"):
            self.step = self.hex_escape(4)
            return True
        return self.fail(c, "in string escape code")

    def hex_escape(self, left: int) -> Callable[[int], bool]:
        def state(c: int) -> bool:
            if c not in _HEX:
                return self.fail(c, "in \\u hexadecimal character escape")
            self.step = self.in_string if left == 1 else self.hex_escape(left - 1)
            return True

        return state

    # -- numbers
    def neg(self, c: int) -> bool:
        if c == ord("0"):
            self.step = self.zero
            return True
        if c in b"123456789":
            self.step = self.one
            return True
        return self.fail(c, "in numeric literal")

    def one(self, c: int) -> bool:
        if c in _DIGITS:
            return True
        return self.zero(c)

    def zero(self, c: int) -> bool:
        if c == ord("."):
            self.step = self.dot
            return True
        if c in b"eE":
            self.step = self.exponent
            return True
        return self.end_value(c)

    def dot(self, c: int) -> bool:
        if c in _DIGITS:
            self.step = self.dot_digits
            return True
        return self.fail(c, "after decimal point in numeric literal")

    def dot_digits(self, c: int) -> bool:
        if c in _DIGITS:
            return True
        if c in b"eE":
            self.step = self.exponent
            return True
        return self.end_value(c)

    def exponent(self, c: int) -> bool:
        if c in b"+-":
            self.step = self.exponent_sign
            return True
        return self.exponent_sign(c)

    def exponent_sign(self, c: int) -> bool:
        if c in _DIGITS:
            self.step = self.exponent_digits
            return True
        return self.fail(c, "in exponent of numeric literal")

    def exponent_digits(self, c: int) -> bool:
        if c in _DIGITS:
            return True
        return self.end_value(c)

    # -- true, false, null
    def literal(self, word: bytes, at: int) -> Callable[[int], bool]:
        def state(c: int) -> bool:
            if c != word[at]:
                return self.fail(c, f"in literal {word.decode()} (expecting {quote_char(word[at])})")
            self.step = self.end_value if at == len(word) - 1 else self.literal(word, at + 1)
            return True

        return state

    def eof(self) -> str | None:
        if self.error is not None:
            return self.error
        if not self.end_top:
            self.step(ord(" "))  # a number ends only when something follows it
        return self.outcome()

    def outcome(self) -> str | None:
        if self.end_top:
            return None
        return self.error or "unexpected end of JSON input"


def syntax_error(data: bytes) -> str | None:
    """What Go's ``json.Unmarshal`` says of ``data`` before decoding it (Go's ``checkValid``): None for
    valid JSON, else the message of its SyntaxError."""
    scanner = _Scanner()
    for c in data:
        if not scanner.step(c):
            return scanner.error
    return scanner.eof()


def value_type(value: object) -> str:
    """The JSON type name Go's UnmarshalTypeError uses for a decoded value."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def summarize(data: bytes, max_length: int = 30) -> str:
    """apimachinery's ``summarizeData``: a JSON object's first bytes as text, anything else in hex."""
    if not data:
        return "<empty>"
    cut = data[:max_length]
    more = " ..." if len(data) > max_length else ""
    if data[:1] == b"{":
        return cut.decode("utf-8", "replace") + more
    return cut.hex() + more
