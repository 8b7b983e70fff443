"""YAML text → plain document (dicts, lists, scalars) plus the line of every key, with ``${VAR}`` expanded.

PyYAML's constructor forgets where things were, so this module composes the
node tree itself and walks it, recording ``path → line`` for every mapping key
and list item. While walking it also reports, instead of silently resolving:
duplicate keys (PyYAML keeps the last one), unsupported tags, recursive
aliases and unset environment variables.

Scalars follow YAML 1.2 where YAML 1.1 surprises people: only true/false are
booleans (``NO`` the region code stays a string), ``09:30`` is not the
sexagesimal integer 570 and ``0755`` is not octal. Mapping keys are always the
text as written (``no:`` is the key "no", ``400:`` is "400").
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from contactcenter.config.problems import KeyPath

__all__ = ["FromEnvironment", "YamlDocument", "YamlIssue", "read_yaml"]

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_REPLACED_TAGS = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-style booleans and numbers (see the module docstring)."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED_TAGS]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
            |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
            |[-+]?\.(?:inf|Inf|INF)
            |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)

# $${ is a literal "${"; ${NAME} and ${NAME:-default} are references; any other "${" is a mistake.
_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")


@dataclass(frozen=True, slots=True)
class YamlIssue:
    """A problem found while reading: its path in the document, 1-based line and message.

    ``value_lost`` says the value at ``path`` was replaced by a placeholder (an
    unset variable became ""), so later complaints about it are noise.
    """

    path: KeyPath
    line: int | None
    message: str
    value_lost: bool = True


@dataclass(frozen=True, slots=True)
class FromEnvironment:
    """A text value that took (part of) its content from environment variables.

    Kept so that error messages can show ``written`` (``${SMTP_PASSWORD}``, as in
    the file) instead of ``value``, which may be a secret, and can name the
    variables that were set but empty (``empty``).
    """

    value: str
    written: str
    empty: tuple[str, ...] = ()


@dataclass(slots=True)
class YamlDocument:
    """The parsed document, the line of every key path, and what went wrong on the way.

    ``environment`` holds, by path, every value that came from ``${VAR}``.
    """

    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    issues: list[YamlIssue] = field(default_factory=list)
    environment: dict[KeyPath, FromEnvironment] = field(default_factory=dict)


_EDITOR_LINE_BREAK = re.compile(r"\r\n|\n|\r")


class _LineNumbers:
    """1-based line of a character position as an editor shows it.

    PyYAML's marks count U+0085, U+2028 and U+2029 as line breaks (YAML 1.1),
    but editors show them inside a line (they come with text pasted from web
    pages and chat apps), so every problem after one would be reported a line
    too low. Lines are therefore counted from the mark's character index,
    breaking only at CR, LF and CR LF.
    """

    def __init__(self, text: str) -> None:
        self._breaks = [match.end() for match in _EDITOR_LINE_BREAK.finditer(text)]

    def of(self, mark: yaml.Mark) -> int:
        return bisect.bisect_right(self._breaks, mark.index) + 1


def read_yaml(text: str, env: Mapping[str, str]) -> YamlDocument:
    """Parse one YAML document; syntax errors come back as a single issue with the line of the mark."""
    try:
        loader = _Loader(text)  # the reader rejects control characters right here
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        message = f"invalid YAML: character {exc.character:#06x} is not allowed in YAML text"
        return YamlDocument(None, issues=[YamlIssue((), line, message, value_lost=False)])
    try:
        return _read(loader, env, _LineNumbers(text))
    finally:
        loader.dispose()


def _read(loader: _Loader, env: Mapping[str, str], line_of: _LineNumbers) -> YamlDocument:
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = "invalid YAML: " + ", ".join(part for part in (exc.context, exc.problem) if part)
        line = line_of.of(mark) if mark else None
        return YamlDocument(None, issues=[YamlIssue((), line, message, value_lost=False)])
    except yaml.YAMLError as exc:  # reader errors: control characters and the like
        return YamlDocument(None, issues=[YamlIssue((), None, f"invalid YAML: {exc}", value_lost=False)])
    if root is None:
        return YamlDocument(None)
    builder = _Builder(loader, env, line_of)
    builder.lines[()] = line_of.of(root.start_mark)
    data = builder.build(root, (), ())
    return YamlDocument(data, builder.lines, builder.issues, builder.environment)


class _Builder:
    """Walks composed nodes into plain Python values, recording lines and issues."""

    def __init__(self, loader: _Loader, env: Mapping[str, str], line_of: _LineNumbers) -> None:
        self.loader = loader
        self.env = env
        self.line_of = line_of
        self.lines: dict[KeyPath, int] = {}
        self.issues: list[YamlIssue] = []
        self.environment: dict[KeyPath, FromEnvironment] = {}

    def build(self, node: Node, path: KeyPath, active: tuple[int, ...]) -> Any:
        """``active`` holds the ids of the nodes being built above us, to catch recursive aliases."""
        if id(node) in active:
            self._issue(path, node, "recursive alias: an anchor may not contain an alias to itself")
            return None
        active = (*active, id(node))
        if isinstance(node, MappingNode):
            return self._mapping(node, path, active)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ_TAG:
                self._issue(path, node, f"unsupported YAML tag {node.tag!r}")
                return None
            items = []
            for index, item in enumerate(node.value):
                self.lines.setdefault((*path, index), self.line_of.of(item.start_mark))
                items.append(self.build(item, (*path, index), active))
            return items
        return self._scalar(node, path)

    def _mapping(self, node: MappingNode, path: KeyPath, active: tuple[int, ...]) -> Any:
        if node.tag != _MAP_TAG:
            self._issue(path, node, f"unsupported YAML tag {node.tag!r}")
            return None
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                self._issue(path, key_node, "mapping keys must be plain text", value_lost=False)
                continue
            key = key_node.value
            line = self.line_of.of(key_node.start_mark)
            if key in first_line:
                message = f"duplicate key {key!r} (first defined on line {first_line[key]})"
                self.issues.append(YamlIssue((*path, key), line, message, value_lost=False))
                continue
            first_line[key] = line
            self.lines[(*path, key)] = line
            result[key] = self.build(value_node, (*path, key), active)
        for merge in merges:
            self._merge(merge, result, path, active)
        return result

    def _merge(self, node: Node, into: dict[str, Any], path: KeyPath, active: tuple[int, ...]) -> None:
        """``<<: *anchor`` (or a list of anchors): copy keys not already set, earlier anchors first."""
        sources = node.value if isinstance(node, SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, MappingNode):
                self._issue(path, source, "'<<' must name a mapping (an anchor like *defaults)", value_lost=False)
                continue
            scratch = _Builder(self.loader, self.env, self.line_of)
            merged = scratch.build(source, path, active)
            self.issues.extend(scratch.issues)
            for sub_path, origin in scratch.environment.items():
                self.environment.setdefault(sub_path, origin)
            for key, value in (merged or {}).items():
                if key in into:
                    continue
                into[key] = value
                prefix = (*path, key)
                for sub_path, line in scratch.lines.items():
                    if sub_path[: len(prefix)] == prefix:
                        self.lines.setdefault(sub_path, line)

    def _scalar(self, node: Node, path: KeyPath) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            self._issue(path, node, f"cannot read value: {exc.problem}")
            return None
        if node.tag == _STR_TAG and isinstance(value, str) and "${" in value:
            return self._interpolate(value, path, node)
        return value

    def _interpolate(self, text: str, path: KeyPath, node: Node) -> str:
        """Expand ``${NAME}`` / ``${NAME:-default}``; as in the shell, an empty variable takes the default.

        A value that used a variable is recorded in ``environment``, so that no
        error message repeats it (it may be a secret) and an empty variable can be named.
        """
        used: list[str] = []
        empty: list[str] = []

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            name, default = match.group(1), match.group(2)
            if name is None:
                self._issue(path, node, "malformed '${': write ${NAME} or ${NAME:-default}, or $${ for '${'")
                return ""
            value = self.env.get(name)
            if value is None or (value == "" and default is not None):
                if default is not None:
                    return default
                hint = f"write ${{{name}:-default}} to give a default"
                self._issue(path, node, f"environment variable {name} is not set ({hint})")
                return ""
            used.append(name)
            if value == "":
                empty.append(name)
            return value

        result = _REFERENCE.sub(replace, text)
        if used:
            self.environment[path] = FromEnvironment(result, text, tuple(empty))
        return result

    def _issue(self, path: KeyPath, node: Node, message: str, *, value_lost: bool = True) -> None:
        self.issues.append(YamlIssue(path, self.line_of.of(node.start_mark), message, value_lost))
