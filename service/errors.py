"""The errors the read side raises for bad input, and the one message for a code that is not there."""
from __future__ import annotations


class QueryError(ValueError):
    """The request cannot be answered as asked (empty or over-long query, bad parameter); the message says why."""


class UnknownCode(LookupError):
    """No such code (or code system) in the loaded index."""


def no_such_code(system: str, code: str) -> UnknownCode:
    return UnknownCode(f"there is no code {code[:40]!r} in {system[:40]} in this index")
