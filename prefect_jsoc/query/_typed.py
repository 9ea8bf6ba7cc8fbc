"""Typed errors out of pydantic: the query models raise ``JsocValidationError`` subclasses.

Pydantic wraps every ``ValueError`` raised inside a validator (our errors are ``ValueError`` s)
into one ``ValidationError``, keeping the original in ``errors()[i]["ctx"]["error"]``. So the
field validators raise our typed errors with our messages, and the three ways a caller builds a
model (``Model(...)``, ``Model.model_validate(...)``, ``Model.model_validate_json(...)``) unwrap
the first one again. ``Model(...)`` is intercepted by the metaclass, so ``BaseModel.__init__`` and
its field-by-field signature stay pydantic's own. Models nested in a bigger pydantic model (a
Prefect flow's parameters, for example) still raise pydantic's ``ValidationError`` there, with
our typed error inside it.
"""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from prefect_jsoc.errors import InvalidOptionError, JsocValidationError

__all__ = ["TypedModel", "preview"]

_Model = TypeVar("_Model", bound=BaseModel)


def preview(value: Any, limit: int = 60) -> str:
    """Return ``repr(value)`` cut to ``limit`` characters, so a huge input never floods a message."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value):,} characters)" if isinstance(value, str) else ""
    return f"{text[: limit - 1]}…{size}"


def _raise_typed(err: ValidationError, model: type[TypedModel]) -> NoReturn:
    """Re-raise the first typed error that ``err`` carries, or a typed error describing it."""
    items = err.errors(include_url=False)
    for item in items:
        carried = (item.get("ctx") or {}).get("error")
        if isinstance(carried, JsocValidationError):
            raise carried  # keeps its own cause; the ValidationError becomes its context
    raise model._untyped_error(items[0]) from err


class _TypedErrorsMeta(type(BaseModel)):  # type: ignore[misc]  # pydantic's ModelMetaclass
    def __call__(cls: type[_Model], /, *args: Any, **kwargs: Any) -> _Model:  # type: ignore[misc]
        try:
            return super().__call__(*args, **kwargs)  # type: ignore[misc]
        except ValidationError as err:
            _raise_typed(err, cls)  # type: ignore[arg-type]


class TypedModel(BaseModel, metaclass=_TypedErrorsMeta):
    """A frozen pydantic model whose constructors raise :class:`JsocValidationError` subclasses."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Typed error for shape problems that no validator of ours described (a wrong type).
    _error_class: ClassVar[type[JsocValidationError]] = JsocValidationError

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Validate ``obj`` as pydantic does, raising a :class:`JsocValidationError` subclass on bad input."""
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as err:
            _raise_typed(err, cls)

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Any:  # type: ignore[override]
        """Validate JSON as pydantic does, raising a :class:`JsocValidationError` subclass on bad input."""
        try:
            return super().model_validate_json(json_data, **kwargs)
        except ValidationError as err:
            _raise_typed(err, cls)

    @classmethod
    def _missing_field_error(cls, name: str) -> JsocValidationError:
        return cls._error_class(f"{cls.__name__} needs a value for {name}=.")

    @classmethod
    def _untyped_error(cls, item: Any) -> JsocValidationError:
        """Describe a pydantic error item that carries no typed error (missing, unknown or mistyped)."""
        loc = ".".join(str(part) for part in item.get("loc", ())) or cls.__name__
        kind = item.get("type")
        if kind == "missing":
            return cls._missing_field_error(loc)
        if kind == "extra_forbidden":
            return InvalidOptionError(f"{cls.__name__} got an unknown option {loc!r}. Remove it or check its spelling.")
        return cls._error_class(
            f"{cls.__name__} got {loc}={preview(item.get('input'))}, which is not valid: {item.get('msg')}."
        )
