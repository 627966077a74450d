"""What the import engine's steps hand each other: a record of the file (an Item), the
problems of its rows, what a batch would write (a Plan) and the run's counts (an Outcome)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from importers.profile import Target


@dataclass
class Problem:
    column: str | None
    value: Any
    message: Any  # a lazy string, rendered in the reader's language
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Item:
    """One record of the file (a document and its lines when lines are mapped)."""

    line: int
    raw: list[Any]
    key: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    lines: list[dict[str, Any]] | None = None
    problems: list[Problem] = field(default_factory=list)
    extra_lines: list[tuple[int, list[Any]]] = field(default_factory=list)
    # Problems of the document's later rows, by line: one bad line fails the whole document.
    member_problems: dict[int, list[Problem]] = field(default_factory=dict)

    @property
    def has_problems(self) -> bool:
        return bool(self.problems or self.member_problems)

    def place(self, target: Target, value: Any) -> None:
        """A converted cell into the record: a field, a reference to resolve (an empty one
        clears it), or a custom value. Line attributes go to the row's line instead."""
        if target.kind == "field":
            self.values[target.name] = value
        elif target.kind == "ref":
            if value is not None:
                self.refs[target.name] = value
            else:
                self.values[f"{target.name}_id"] = None
        elif target.kind == "custom":
            self.custom[target.name] = value


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    fingerprinted: int = 0  # of the unchanged, recognised by their fingerprint
    failed: int = 0
    archived: int = 0


@dataclass
class Plan:
    creates: list[dict[str, Any]] = field(default_factory=list)
    updates: list[tuple[Item, dict[str, Any]]] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)
    diffs: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    failed: list[Item] = field(default_factory=list)

    def merge(self, other: Plan) -> None:
        self.creates += other.creates
        self.updates += other.updates
        self.audits += other.audits
        self.diffs += other.diffs
        self.unchanged += other.unchanged
        self.failed += other.failed
