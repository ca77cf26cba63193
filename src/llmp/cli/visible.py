"""Text from a client or an upstream, made harmless to print on a terminal.

A terminal acts on control characters: ESC opens sequences that set the window
title, write the clipboard (OSC 52) or move the cursor, C1 codes do the same in
one byte, and a line break in a model name or an error message forges a line
of output. Each is shown as an escape (`\\x1b`, `\\n`) instead: what was sent
stays readable and does nothing.
"""

from __future__ import annotations

import re

# C0, DEL, C1, the Unicode line and paragraph separators, the bidirectional overrides
# that make a terminal show text in another order than it was written, and lone surrogates
# (a byte that was not UTF-8), which no terminal encoding can print.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def visible(text: str) -> str:
    """`text` with every control character written out as an escape."""
    return text if text.isprintable() else _CONTROL.sub(_escaped, text)


def visible_lines(text: str) -> str:
    """Like `visible`, but the line breaks stay: for text that is several lines by design
    (a traceback, a daemon's start-up output)."""
    return "\n".join(map(visible, text.split("\n")))


def visible_text(text: str) -> str:
    """Like `visible`, but line breaks and tabs stay: for prose whose layout is its own (a
    model's reply), where only what a terminal would act on must not get through."""
    if text.isprintable():
        return text
    return "\n".join("\t".join(map(visible, line.split("\t"))) for line in text.split("\n"))


def _json_escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def visible_json(line: str) -> str:
    """A JSON text line with its control characters as JSON escapes: a valid line stays valid
    and means the same (raw controls can only sit inside its strings), and prints harmlessly."""
    return line if line.isprintable() else _CONTROL.sub(_json_escaped, line)
