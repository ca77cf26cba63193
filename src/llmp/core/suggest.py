"""Did-you-mean suggestions for a mistyped name (an option, a preset, a model).

difflib is imported on the first mistake rather than with every daemon (about
0.2 MiB of idle memory for something a correct config never uses).
"""

from __future__ import annotations

from collections.abc import Sequence


def close_matches(word: str, choices: Sequence[str], n: int = 1, cutoff: float = 0.6) -> list[str]:
    import difflib

    return difflib.get_close_matches(word, choices, n=n, cutoff=cutoff)
