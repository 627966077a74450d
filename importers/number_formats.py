"""A number as a spreadsheet shows it, from its Excel number format code (what CSV exports keep).

Supported, as Excel and Calc display them in English: digit placeholders `0` and `#`, grouping
`,`, decimals `.`, percent `%`, scientific `E+`, up to four sections (positive; negative; zero;
text), literal text ("…", \\x, `[$€-40C]`, other symbols), colours (`[Red]`) ignored, `_x` and
`*x` paddings dropped, and integer templates with literals between the digits (`00000`,
`000000000`, `00 00 00 00 00`, `000-00-0000`). Rounding is half away from zero, as Excel rounds.
Other codes (conditions such as `[<=9999]`, fractions `# ?/?`, `?` alignment, dates) give None:
the caller keeps the plain number, as it does for a code longer than Excel's 255 characters.
Digits go through Babel's number patterns. A code is parsed once (cached): a sheet's numbers
share a few codes, and every cell must not pay for them again.
"""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import NumberFormatError, parse_pattern

PLACEHOLDERS = "0#"
# One way to match each text (no nested stars over the same characters): linear, no backtracking.
CORE = re.compile(r"[0#,]*(?:\.[0#]*)?(?:[eE][+-][0#]+)?%?")
TEMPLATE = re.compile(r"[0#]+(?:[ ().\-/][0#]+)+")  # digits with literals between them
INSIDE = re.compile(r"[ ().\-/]+[0#]")
CONDITION = re.compile(r"\[[<>=]")
GENERAL = {"general", "@", ""}
MAX_CODE_LENGTH = 255  # Excel's own limit on a number format code
Section = tuple[str, str, str]  # (literal text before, digit placeholders, literal text after)


def displayed(value: int | float, code: str) -> str | None:
    """The text `code` shows for `value`, or None when it shows the plain number or is unknown."""
    if not isinstance(code, str) or len(code) > MAX_CODE_LENGTH \
            or code.strip().casefold() in GENERAL:
        return None
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        return None
    sections = _parsed(code)
    if sections is None:
        return None
    parts, number = _section(sections, number)
    if parts is None:
        return None
    prefix, core, suffix = parts
    try:
        digits = _digits(core, number)
    except (NumberFormatError, InvalidOperation, ValueError):
        return None
    return None if digits is None else f"{prefix}{digits}{suffix}"


@lru_cache(maxsize=1024)
def _parsed(code: str) -> tuple[tuple[bool, Section | None], ...] | None:
    """(blank?, parsed or None when not supported) of each section; None for the whole code when
    it has conditions."""
    sections = _sections(code)
    if any(CONDITION.search(s) for s in sections):
        return None  # conditional sections: not supported
    return tuple((not s.strip(), _parts(s)) for s in sections)


def _sections(code: str) -> list[str]:
    sections, current, quoted, escaped = [], [], False, False
    for char in code:
        if escaped:
            escaped = False
        elif char == "\\" and not quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            sections.append("".join(current))
            current = []
            continue
        current.append(char)
    sections.append("".join(current))
    return sections


def _section(sections: tuple[tuple[bool, Section | None], ...],
             number: Decimal) -> tuple[Section | None, Decimal]:
    """The section that shows the number, and the number it formats (negative: its size)."""
    if number < 0 and len(sections) >= 2 and not sections[1][0]:
        return sections[1][1], -number
    if number == 0 and len(sections) >= 3 and not sections[2][0]:
        return sections[2][1], number
    return sections[0][1], number


def _parts(section: str) -> tuple[str, str, str] | None:
    """(literal text before, digit placeholders, literal text after) of one section."""
    before, core, after = [], [], []
    position = 0
    while position < len(section):
        char = section[position]
        target = after if core else before
        if char == '"':
            end = section.find('"', position + 1)
            end = len(section) if end < 0 else end
            target.append(section[position + 1:end])
            position = end + 1
            continue
        if char == "\\" and position + 1 < len(section):
            target.append(section[position + 1])
            position += 2
            continue
        if char in "_*":
            position += 2  # padding to a character's width, or fill: not text
            continue
        if char == "[":
            end = section.find("]", position)
            if end < 0:
                return None
            tag = section[position + 1:end]
            if tag.startswith("$"):
                target.append(tag[1:].split("-", 1)[0])  # [$€-40C]: the currency symbol
            position = end + 1
            continue
        if char in "eE" and core and section[position + 1:position + 2] in ("+", "-"):
            core.append(section[position:position + 2])  # scientific: E+ or E-
            position += 2
            continue
        if char in "0#.,%" or (char in " ()-/" and core and _inside(section, position)):
            if after:
                return None  # digits after literal text (fractions and the like)
            core.append(char)
            position += 1
            continue
        if char in "?/@":
            return None
        target.append(char)
        position += 1
    return "".join(before), "".join(core), "".join(after)


def _inside(section: str, position: int) -> bool:
    """A literal between digit placeholders (the dash of 000-00-0000)."""
    return INSIDE.match(section, position) is not None


def _digits(core: str, number: Decimal) -> str | None:
    if not core or not any(c in PLACEHOLDERS for c in core):
        return None
    if TEMPLATE.fullmatch(core) and core.count(".") != 1:
        return _template(core, number)
    if not CORE.fullmatch(core) or core.endswith(","):  # a trailing , divides by 1000
        return None
    pattern = parse_pattern(core)
    scaled = number.scaleb(pattern.scale)
    if "e" not in core.casefold():
        scaled = scaled.quantize(Decimal(1).scaleb(-pattern.frac_prec[1]), ROUND_HALF_UP)
    return pattern.apply(scaled.scaleb(-pattern.scale), "en_US")


def _template(core: str, number: Decimal) -> str:
    """Digits filled right to left into the placeholders; literals kept; extra digits first."""
    digits = list(str(abs(number.quantize(Decimal(1), ROUND_HALF_UP))))
    if digits == ["0"]:
        digits = []
    out = []
    for char in reversed(core):
        if char in PLACEHOLDERS:
            if digits:
                out.append(digits.pop())
            elif char == "0":
                out.append("0")
        else:
            out.append(char)
    text = "".join(digits) + "".join(reversed(out))
    return f"-{text}" if number < 0 else text
