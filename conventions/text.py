"""Text people give us: single-line texts (names, reasons) carry no control characters,
and multi-line ones (messages, notes) only line breaks and tabs.

A line break in a name ends up in an e-mail header; NUL cannot be stored in
PostgreSQL; escape sequences and bidi overrides disguise what a text says.
"""

import unicodedata

from conventions.errors import Invalid

# Bidi embeddings, overrides and isolates: they reorder how the rest of a text is shown.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
LINE_BREAKS = frozenset("\n\t")


def _refused(char: str, *, multi_line: bool) -> bool:
    if multi_line and char in LINE_BREAKS:
        return False
    if char == "\r" and multi_line:
        return False  # CR LF from a textarea; stored as sent
    return unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in BIDI_CONTROLS


def text_refuse_controls(value: str, *, field: str, multi_line: bool = False) -> str:
    """`value` as it is, or a 422 naming `field` when it holds a character we refuse."""
    if any(_refused(char, multi_line=multi_line) for char in value):
        allowed = "line breaks and tabs only" if multi_line else "no line breaks"
        raise Invalid(
            f"`{field}` may not contain control characters ({allowed}).",
            details={field: "control characters are not allowed"},
        )
    return value


def text_clean(value: object, *, field: str, multi_line: bool = False, max_length: int) -> str:
    """The text trimmed, or a 422 naming `field` when it is not text we accept."""
    if not isinstance(value, str):
        raise Invalid(f"`{field}` must be text.", details={field: "must be a string"})
    value = value.strip()
    if len(value) > max_length:
        raise Invalid(
            f"`{field}` is at most {max_length} characters.",
            details={field: f"at most {max_length} characters"},
        )
    return text_refuse_controls(value, field=field, multi_line=multi_line)
