"""Configuration problems: what is wrong, in which file, on which line, under which key.

A start-up that fails on configuration must tell IT exactly where to look, and
must tell them everything at once: fixing one typo per restart is how people
learn to hate a product. So every stage (YAML, types, references) produces
``ConfigProblem`` values instead of raising, and ``ConfigError`` carries them
all. ``str(problem)`` is the exact line printed by ``contactcenter config check``.

This module also translates pydantic's ``ValidationError`` into problems: the
``loc`` of each error is mapped back onto the YAML document (dropping
pydantic's union tags) and then onto the line table built by the loader.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "KeyPath",
    "LineTable",
    "RuleViolations",
    "format_key_path",
    "line_for",
    "problems_from_validation_error",
]

KeyPath = tuple[str | int, ...]
"""A position in the document: mapping keys and list indexes, e.g. ``("queues", "sales", "skills")``."""

LineTable = Mapping[KeyPath, int]
"""1-based line of every key (and list item) in the document, keyed by its path."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with the configuration.

    ``line`` is 1-based, or None when there is no line to point at (an
    unreadable file, settings built from a dict). ``key_path`` is empty for
    problems with the document as a whole (YAML syntax).
    """

    file: str
    line: int | None
    key_path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.key_path:
            return f"{where}: {self.key_path}: {self.message}"
        return f"{where}: {self.message}"


class ConfigError(Exception):
    """The configuration is unusable; ``problems`` lists every reason, in file order."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems: list[ConfigProblem] = list(problems)
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[ConfigProblem]]]:
        return (type(self), (self.problems,))


class RuleViolations(ValueError):
    """Raised by a model validator that found several broken rules, each under its own sub-key.

    Pydantic lets a model validator report one error at the model's own
    location; raising this instead lets the error mapper expand it into one
    problem per violation with the exact key path (e.g. ``pool_min_size``
    rather than ``database``), which is what puts the right line in front of
    the reader.
    """

    def __init__(self, violations: Sequence[tuple[KeyPath, str]]) -> None:
        self.violations = list(violations)
        super().__init__("; ".join(message for _, message in self.violations))


_PLAIN_KEY = re.compile(r"^[^.\[\]\s\"']+$")


def format_key_path(path: KeyPath) -> str:
    """``("channels", "email", "mailboxes", 0, "queue")`` → ``channels.email.mailboxes[0].queue``.

    Keys that would be ambiguous in dotted form (dots, spaces, quotes) are
    written as ``["a.b"]``.
    """
    out: list[str] = []
    for segment in path:
        if isinstance(segment, int):
            out.append(f"[{segment}]")
        elif _PLAIN_KEY.match(segment):
            out.append(f".{segment}" if out else segment)
        else:
            out.append(f"[{segment!r}]")
    return "".join(out)


def line_for(path: KeyPath, lines: LineTable) -> int | None:
    """The line of ``path``, or of its nearest ancestor present in the file (for missing keys)."""
    for end in range(len(path), -1, -1):
        line = lines.get(path[:end])
        if line is not None:
            return line
    return None


# Pydantic messages read like a type checker; these read like advice to the person editing the file.
_MESSAGES = {
    "missing": "missing required key",
    "string_type": "expected a text string (put it in quotes if it looks like a number, date or true/false)",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "finite_number": "expected a finite number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "dict_type": "expected a mapping (key: value pairs)",
    "model_type": "expected a mapping (key: value pairs)",
    "model_attributes_type": "expected a mapping (key: value pairs)",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "union_tag_not_found": "missing required key 'type'",
}
# Inputs of these errors are meant to be enum choices or numbers, so they are echoed; one that came from
# ${VAR} may be anything (a password after a copy-paste), and the loader replaces it by the reference.
_ECHO_INPUT = {"literal_error", "enum", "int_parsing", "float_parsing", "bool_parsing", "int_from_float"}


def problems_from_validation_error(
    error: ValidationError,
    *,
    root_model: type[BaseModel],
    data: object,
    lines: LineTable,
    file: str,
) -> list[tuple[KeyPath, ConfigProblem]]:
    """Turn every pydantic error into a problem; also return each problem's document path.

    The path is returned so that the caller can drop errors about values it
    has already reported (an unset ``${VAR}`` becomes "" and would otherwise
    be reported twice).
    """
    out: list[tuple[KeyPath, ConfigProblem]] = []
    errors = error.errors(include_url=False)
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "too_short" and _has_inner_error(loc, errors):
            continue  # pydantic drops invalid items, then also complains the list is short: noise
        path = _document_path(loc, data, missing=err["type"] == "missing")
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, RuleViolations):
            for sub_path, message in cause.violations:
                full = path + sub_path
                out.append((full, ConfigProblem(file, line_for(full, lines), format_key_path(full), message)))
            continue
        if err["type"] in ("union_tag_not_found", "union_tag_invalid"):
            path = (*path, "type")
        message = _message(err, loc, root_model)
        out.append((path, ConfigProblem(file, line_for(path, lines), format_key_path(path), message)))
    return out


def _has_inner_error(loc: tuple[Any, ...], errors: list[Any]) -> bool:
    return any(len(other["loc"]) > len(loc) and tuple(other["loc"][: len(loc)]) == loc for other in errors)


def _message(err: Any, loc: tuple[Any, ...], root_model: type[BaseModel]) -> str:
    kind = err["type"]
    if kind == "too_short":
        least = (err.get("ctx") or {}).get("min_length", 1)
        return "must not be empty" if least == 1 else f"must have at least {least} items"
    if kind == "extra_forbidden":
        return _unknown_key_message(str(loc[-1]), _model_at(root_model, loc[:-1]))
    if kind in ("value_error", "assertion_error"):
        cause = (err.get("ctx") or {}).get("error")
        return str(cause) if cause is not None else err["msg"]
    message = _MESSAGES.get(kind) or str(err["msg"]).replace("Input should be", "must be", 1)
    if kind in _ECHO_INPUT:
        message += f" (got {err['input']!r})"
    return message


def _unknown_key_message(key: str, model: type[BaseModel] | None) -> str:
    if model is None:
        return f"unknown key {key!r}"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key {key!r} ({hint}allowed: {', '.join(allowed)})"


def _document_path(loc: tuple[Any, ...], data: object, *, missing: bool) -> KeyPath:
    """Follow ``loc`` through the parsed document, keeping only segments that exist in it.

    Pydantic inserts segments that are not keys (the tag of a discriminated
    union, ``[key]`` for a bad mapping key); they are dropped. The last segment
    of a "missing" error is kept although it is absent: it is the missing key.
    """
    path: list[str | int] = []
    node = data
    for index, segment in enumerate(loc):
        in_mapping = isinstance(node, dict) and isinstance(segment, str) and segment in node
        in_list = isinstance(node, list) and isinstance(segment, int) and 0 <= segment < len(node)
        if in_mapping or in_list:
            path.append(segment)
            node = node[segment]  # type: ignore[index]
        elif missing and index == len(loc) - 1 and isinstance(segment, str | int):
            path.append(segment)
    return tuple(path)


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that validated the value at ``loc`` (to list its allowed keys)."""
    current: Any = root
    for segment in loc:
        current = _step(current, segment)
        if current is None:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _step(annotation: Any, segment: Any) -> Any:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(segment) if isinstance(segment, str) else None
        return field.annotation if field is not None else None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):  # a discriminated union: the segment is the tag
        for member in args:
            member = _unwrap(member)
            tag = getattr(member, "model_fields", {}).get("type")
            if tag is not None and segment in typing.get_args(tag.annotation):
                return member
        return None
    if origin in (list, tuple) and isinstance(segment, int):
        return args[0] if args else None
    if origin is dict and isinstance(segment, str):
        return args[1] if len(args) == 2 else None
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated[...]`` and ``X | None`` down to the type that carries the structure."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation
