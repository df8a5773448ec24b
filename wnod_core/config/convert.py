"""Turning TOML tables into attrs objects, strictly, with one path-qualified message per mistake.

cattrs does the structuring; this module makes it strict (no "3" for 3, no unknown
keys) and turns its exception groups into ``Problem(path, message)`` lists.
"""

import enum
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from ..errors import ConfigError, Problem
from ..model.units import Bytes, Seconds, format_duration, format_size, parse_duration, parse_size
from ..model.vmtype import CpuSet, ImageName, Name, check_cpuset, check_image_name, check_name
from ..text import did_you_mean

T = TypeVar("T")

_TYPE_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _strict(kind: type) -> Callable[[Any, Any], Any]:
    def hook(value: Any, _type: Any) -> Any:
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            raise TypeError(f"expected {_TYPE_WORDS[kind]}, got {_show(value)}")
        return value

    return hook


def _enum_hook(value: Any, enum_type: type[enum.Enum]) -> Any:
    choices = [str(m.value) for m in enum_type]  # type: ignore[var-annotated]
    if value in choices:
        return enum_type(value)
    hint = did_you_mean(value, choices) if isinstance(value, str) else ""
    raise ValueError(f"expected one of {', '.join(repr(c) for c in choices)}, got {_show(value)}{hint}")


def _checked(check: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    return lambda value, _type: check(value)


def _name_hook(value: Any, _type: Any) -> str:
    return check_name(value)


def make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    for kind in (str, int, float, bool):
        conv.register_structure_hook(kind, _strict(kind))
    # Hooks go by class, nearest in the MRO first: a StrEnum is also a str, so without its
    # own entry the str hook above would take it and skip the check of the choices.
    for enum_base in (enum.StrEnum, enum.IntEnum):
        conv.register_structure_hook(enum_base, _enum_hook)
    conv.register_structure_hook_func(lambda t: isinstance(t, type) and issubclass(t, enum.Enum), _enum_hook)
    conv.register_structure_hook(Bytes, _checked(parse_size))
    conv.register_structure_hook(Seconds, _checked(parse_duration))
    conv.register_structure_hook(Name, _name_hook)
    conv.register_structure_hook(ImageName, _checked(check_image_name))
    conv.register_structure_hook(CpuSet, _checked(check_cpuset))
    conv.register_unstructure_hook(Bytes, format_size)
    conv.register_unstructure_hook(Seconds, format_duration)
    conv.register_unstructure_hook_func(lambda t: isinstance(t, type) and issubclass(t, enum.Enum), str)
    return conv


CONVERTER = make_converter()


def structure(data: Any, cls: type[T], path: str) -> T:
    """`data` as a `cls`, or ConfigError listing every mistake under `path`."""
    if attrs.has(cls) and not isinstance(data, dict):
        raise ConfigError([Problem(path, f"expected a table, got {_show(data)}")])
    try:
        return CONVERTER.structure(data, cls)
    except (ClassValidationError, IterableValidationError, ValueError, TypeError, KeyError) as exc:
        problems = _field_by_field(data, cls, path) if attrs.has(cls) else []
        raise ConfigError(problems or problems_of(exc, path)) from None


def _field_by_field(data: dict[str, Any], cls: type, path: str) -> list[Problem]:
    """Every mistake in a table, each at its key's path.

    attrs runs validators inside ``__init__`` and stops at the first that fails, naming
    no path; checking each key on its own finds them all and says where each one is.
    """
    fields = attrs.fields(cls)
    names = [f.name for f in fields]
    problems = [Problem(join(path, k), f"unknown key{did_you_mean(k, names)}") for k in data if k not in names]
    for field in fields:
        where = join(path, field.name)
        if field.name not in data:
            if field.default is attrs.NOTHING:
                problems.append(Problem(where, "required, but missing"))
            continue
        value = data[field.name]
        if field.type is not None and attrs.has(field.type):
            try:
                structure(value, field.type, where)
            except ConfigError as exc:
                problems.extend(exc.problems)
            continue
        try:
            if field.type is not None:
                value = CONVERTER.structure(value, field.type)
            if field.converter is not None:
                value = field.converter(value)  # type: ignore[operator]
            if field.validator is not None:
                field.validator(None, field, value)
        except (ClassValidationError, IterableValidationError, ValueError, TypeError) as exc:
            problems.extend(problems_of(exc, where))
    return problems


def unstructure(obj: Any) -> Any:
    return CONVERTER.unstructure(obj)


def problems_of(exc: BaseException, path: str) -> list[Problem]:
    """Flatten cattrs' nested exception groups into one Problem per mistake."""
    if isinstance(exc, ClassValidationError):
        with_notes, without = exc.group_exceptions()
        out = []
        for inner, note in with_notes:
            out.extend(problems_of(inner, join(path, note.name)))
        for inner in without:
            out.extend(problems_of(inner, path))
        return out
    if isinstance(exc, IterableValidationError):
        with_notes, without = exc.group_exceptions()
        out = []
        for inner, note in with_notes:
            out.extend(problems_of(inner, join(path, note.index)))
        for inner in without:
            out.extend(problems_of(inner, path))
        return out
    if isinstance(exc, ForbiddenExtraKeysError):
        known = [f.name for f in attrs.fields(exc.cl)] if exc.cl and attrs.has(exc.cl) else []
        return [Problem(join(path, k), f"unknown key{did_you_mean(k, known)}") for k in sorted(exc.extra_fields)]
    if isinstance(exc, KeyError):
        return [Problem(path, "required, but missing")]
    if isinstance(exc, ValueError | TypeError):
        return [Problem(path, str(exc) or type(exc).__name__)]
    return [Problem(path, f"{type(exc).__name__}: {exc}")]


def join(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f'"{value}"' if isinstance(value, str) else repr(value)
