"""The files the configuration reads, each with a bound: the YAML files (--config.file and
--web.config-file, through the one loader load_yaml) and the files holding secrets.

A YAML file is refused, naming the setting that gave it, when it is larger than MAX_YAML_BYTES, uses more
than MAX_YAML_ALIASES aliases, or holds more than MAX_YAML_NODES values once every alias is counted as a
copy of what it names (limits.py). The last bound is what stops an "alias bomb": nine aliases of nine
aliases of ... make 300 bytes that expand to hundreds of millions of values. PyYAML builds that cheaply,
as shared objects, but anything that walks the result (a parser, an error message) would not finish.
"""

from __future__ import annotations

from typing import Any

import yaml

from .fields import text
from .limits import MAX_SECRET_BYTES, MAX_YAML_ALIASES, MAX_YAML_BYTES, MAX_YAML_NODES
from .values import ConfigError, bytes_text

# libyaml's loader when PyYAML has it: four times faster, and it refuses nesting deeper than 1000 itself.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_limited(path: str, field: str, limit: int) -> str:
    """The UTF-8 text of file `path`, read no further than `limit` bytes, so that a huge file (or
    /dev/zero) is an error naming `field` rather than a hang or an exhausted memory."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        why = getattr(exc, "strerror", None) or "not a readable file"
        raise ConfigError(field, f"cannot read the file: {why}") from None
    if len(data) > limit:
        raise ConfigError(field, f"the file is larger than {bytes_text(limit)}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(field, "the file is not UTF-8 text") from None


def read_secret(path: str, field: str) -> str:
    """The secret in file `path` (stripped); ConfigError naming `field` if it cannot be read."""
    return read_limited(path, field, MAX_SECRET_BYTES).strip()


def secret_file(value: Any, path: str) -> str:
    """A section field naming a file: the secret it holds."""
    return read_secret(text(value, path), path)


def load_yaml(path: str, field: str) -> dict[str, Any]:
    """The mapping at the top of YAML file `path` ({} if the file is empty); ConfigError naming `field`
    (the setting that named the file) if it is unreadable, too large, not YAML or not a mapping."""
    loader = _LOADER(read_limited(path, field, MAX_YAML_BYTES))
    try:
        node = loader.get_single_node()
        if node is None:
            return {}
        _check_expansion(node, field)
        data = loader.construct_document(node)
    except ConfigError:  # from _check_expansion: a ValueError, but not one of PyYAML's
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(field, f"the file is not valid YAML{where}") from None
    except RecursionError:  # the pure-Python loader, on deep nesting
        raise ConfigError(field, "the file nests values too deeply") from None
    except ValueError:  # PyYAML's constructors: an integer of more than 4300 digits, a bad !!binary ...
        raise ConfigError(field, "the file holds a value that cannot be read (a number too long?)") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ConfigError(field, "the file must hold a mapping at the top level")
    return data


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _check_expansion(root: yaml.Node, field: str) -> None:
    """Refuse a document with too many aliases, too many values once they are expanded, or an alias
    inside the value it names. Walks each node once (an alias is the same node met again), without
    recursion: libyaml allows 1000 levels, more than Python's stack."""
    expanded: dict[int, int] = {}  # id(node) -> number of values it stands for, once counted
    open_nodes: set[int] = set()  # being counted: met again below itself, it is a cycle
    aliases = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            expanded[key] = 1 + sum(expanded[id(child)] for child in _children(node))
            if expanded[key] > MAX_YAML_NODES:
                raise ConfigError(
                    field, f"the file expands to more than {MAX_YAML_NODES} values through its aliases"
                )
        elif key in open_nodes:
            raise ConfigError(field, "the file has an alias inside the value it names")
        elif key in expanded:
            aliases += 1
            if aliases > MAX_YAML_ALIASES:
                raise ConfigError(field, f"the file uses more than {MAX_YAML_ALIASES} aliases")
        else:
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(_children(node)))
