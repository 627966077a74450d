"""JSON sent from outside, read within limits that keep a hostile document from crashing the
request: nesting past MAX_DEPTH, an integer past Python's digit limit (4,300), a lone UTF-16
surrogate (a string that cannot be written anywhere afterwards).

The standard library's C decoder still does the parsing; the checks after it cost little:
a count of brackets and one regex search on the bytes, and, when there are more brackets than
MAX_DEPTH, a walk of the decoded containers (under 2% of a 10,000-item bulk call).
"""
from __future__ import annotations

import json
import re
from typing import Any

from flask_babel import gettext as _

# Far deeper than any body of the API (a bulk item's multi-choice value is 4 levels down).
MAX_DEPTH = 32
# A \uD800–\uDFFF escape: a lone surrogate, or half of a pair the decoder joins.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class JSONInputError(ValueError):
    """A JSON document past our limits; its message is localized, ready to show."""


def load_json(data: bytes) -> Any:
    """The value of a JSON document; JSONInputError past the limits, json.JSONDecodeError
    (or UnicodeDecodeError) when it is not JSON."""
    text = data.decode("utf-8")
    try:
        value = json.loads(text)
    except RecursionError:
        raise _too_deep() from None
    except json.JSONDecodeError:
        raise
    except ValueError:  # what else the decoder raises: an integer past the digit limit
        raise JSONInputError(_("A number in the JSON body has too many digits.")) from None
    if data.count(b"[") + data.count(b"{") > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        raise _too_deep()
    if _SURROGATE_ESCAPE.search(data) and _has_lone_surrogate(value):
        raise JSONInputError(_("A text in the JSON body is not valid Unicode: it holds a "
                               "lone \\uD800–\\uDFFF escape."))
    return value


def _too_deep() -> JSONInputError:
    return JSONInputError(_("The JSON body is nested too deeply (%(depth)d levels at most).",
                            depth=MAX_DEPTH))


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether `value` nests more than `limit` arrays or objects, level by level (no recursion)."""
    level = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [child for node in level
                 for child in (node.values() if isinstance(node, dict) else node)
                 if isinstance(child, dict | list)]
    return False


def _has_lone_surrogate(value: Any) -> bool:
    # The decoder joins a valid pair into one character: any surrogate left is a lone one,
    # and UTF-8 cannot encode it (keys included).
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    return False
