"""Keyword filters: one comparison each, rendered inside a record set's ``[? ... ?]`` clause."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BeforeValidator, ValidationInfo, field_validator

from prefect_jsoc.errors import InvalidKeywordFilterError
from prefect_jsoc.query._typed import TypedModel, preview
from prefect_jsoc.query.fields import check_name, check_value

__all__ = ["KeywordFilter", "Operator", "parse_filters"]

Operator = Literal["=", "!=", "<", "<=", ">", ">="]
_OPERATORS: tuple[str, ...] = get_args(Operator)
_ALIASES = {"==": "=", "<>": "!="}
#: Operators people type by mistake, and what they meant.
_LIKELY_MEANT = {"=>": ">=", "=<": "<=", "=!": "!=", "!==": "!=", "===": "=", "><": "!="}
_SPEC_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*([=!<>]+)\s*(.*?)\s*$", re.S)


def _check_operator(value: Any, name: str) -> str:
    op = _ALIASES.get(value.strip(), value.strip()) if isinstance(value, str) else None
    if op in _OPERATORS:
        return op
    meant = _LIKELY_MEANT.get(op) if op is not None else None
    hint = f" Did you mean {meant!r}?" if meant else ""
    raise InvalidKeywordFilterError(
        f"Keyword filter {name!r} uses the operator {preview(value)}; the allowed operators are "
        f"{', '.join(_OPERATORS)}.{hint}"
    )


class KeywordFilter(TypedModel):
    """One keyword comparison, rendered inside ``[? ... ?]`` like sunpy's ``Keyword("QUALITY") == 0``.

    Attributes:
        name: Keyword name, for example ``"QUALITY"``.
        op: One of ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` (``==`` and ``<>`` are accepted).
        value: The value to compare with; it is sent single-quoted, as sunpy does.

    Example:
        ```python
        from prefect_jsoc.query import KeywordFilter
        KeywordFilter.parse("QUALITY=0")      # KeywordFilter(name='QUALITY', op='=', value='0')
        ```
    """

    _error_class: ClassVar = InvalidKeywordFilterError

    name: Annotated[str, BeforeValidator(lambda v: check_name(v, "Keyword filter name", InvalidKeywordFilterError))]
    op: Operator
    value: str

    @field_validator("op", mode="before")
    @classmethod
    def _known_operator(cls, value: Any, info: ValidationInfo) -> str:
        return _check_operator(value, info.data.get("name", "?"))

    @field_validator("value", mode="before")
    @classmethod
    def _sendable_value(cls, value: Any, info: ValidationInfo) -> str:
        return check_value(value, f"keyword filter {info.data.get('name', '?')!r}")

    @classmethod
    def _missing_field_error(cls, name: str) -> InvalidKeywordFilterError:
        return InvalidKeywordFilterError(f"A keyword filter needs a name, an operator and a value; {name}= is missing.")

    @classmethod
    def parse(cls, spec: Any) -> KeywordFilter:
        """Build a filter from a :class:`KeywordFilter`, a ``(name, op, value)`` tuple, a mapping or a string.

        A string value may be quoted (``"OBS_MODE='IQUV'"``); quote it when it starts with ``=``,
        ``<``, ``>`` or ``!``, since ``QUALITY=>0`` is read as a misspelt operator, not as
        ``QUALITY = '>0'``. The command line's ``--keyword`` uses this parser.

        Args:
            spec: ``"QUALITY=0"``, ``"EXPTIME >= 2"``, ``("QUALITY", "=", 0)`` or
                ``{"name": "QUALITY", "op": "=", "value": 0}``.

        Returns:
            The filter.

        Raises:
            InvalidKeywordFilterError: When the spec has no comparison, an unknown or misspelt
                operator, or a value a record set cannot carry.

        Example:
            ```python
            from prefect_jsoc.query import KeywordFilter
            assert KeywordFilter.parse(("EXPTIME", ">", 2)).render() == "EXPTIME>'2'"
            ```
        """
        if isinstance(spec, KeywordFilter):
            return spec
        if isinstance(spec, Mapping):
            return cls(**spec)
        if isinstance(spec, str):
            match = _SPEC_RE.match(spec)
            if not match or not match.group(3):
                raise InvalidKeywordFilterError(
                    f"Keyword filter {preview(spec)} needs to have a comparison to a value, such as 'QUALITY=0' "
                    "or 'EXPTIME>2'."
                )
            name, op, value = match.groups()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            return cls(name=name, op=op, value=value)
        if isinstance(spec, Sequence) and len(spec) == 3:
            return cls(name=spec[0], op=spec[1], value=spec[2])
        raise InvalidKeywordFilterError(
            f"Keyword filter {preview(spec)} must be a KeywordFilter, a (name, op, value) tuple, a mapping or a "
            "string such as 'QUALITY=0'."
        )

    def render(self, name: str | None = None) -> str:
        """Return the SQL fragment, e.g. ``QUALITY='0'`` (``name`` overrides the spelling)."""
        return f"{name or self.name}{self.op}'{self.value}'"


def parse_filters(value: Any) -> tuple[KeywordFilter, ...]:
    """Read ``filters=``: one spec or several (see :meth:`KeywordFilter.parse`), sorted, duplicates dropped."""
    if value is None:
        return ()
    if isinstance(value, (str, KeywordFilter, Mapping)):
        value = [value]
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise InvalidKeywordFilterError(
            f"filters= must be a filter such as 'QUALITY=0' or a list of them, got a {type(value).__name__}."
        )
    parsed = {KeywordFilter.parse(spec) for spec in value}
    return tuple(sorted(parsed, key=lambda f: (f.name.upper(), f.op, f.value)))
