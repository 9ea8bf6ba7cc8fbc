"""Cut-outs: the parameters of JSOC's ``im_patch`` processing, as sunpy's ``Cutout`` sends them."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import astropy.units as u
from pydantic import AliasChoices, BeforeValidator, Field, field_validator

from prefect_jsoc.errors import InvalidCutoutError
from prefect_jsoc.query._typed import TypedModel, preview
from prefect_jsoc.query.fields import choice
from prefect_jsoc.query.times import parse_time

__all__ = ["BoxUnits", "Cutout", "LocUnits"]

LocUnits = Literal["arcsec", "pixels", "stony", "carrlong"]
BoxUnits = Literal["arcsec", "pixels", "degrees"]


def _number(value: Any, key: str, *, positive: bool = False) -> float:
    try:
        if isinstance(value, u.Quantity):
            value = value.to_value(u.arcsec) if value.unit.physical_type == "angle" else value.value
        number = float(value)
    except (TypeError, ValueError, u.UnitsError) as exc:
        raise InvalidCutoutError(f"The cut-out {key} {preview(value)} is not a number.") from exc
    if not math.isfinite(number) or (positive and number <= 0):
        raise InvalidCutoutError(
            f"The cut-out {key} must be a {'positive ' if positive else ''}number, got {preview(value)}."
        )
    return number


class Cutout(TypedModel):
    """Parameters of JSOC's ``im_patch`` processing (a cut-out), as sunpy's ``Cutout`` sends them.

    Attributes:
        x: Centre of the box, horizontal (``locunits``, arcsec by default).
        y: Centre of the box, vertical.
        width: Box width (``boxunits``).
        height: Box height.
        t_ref: Reference time of the box centre; the query start when omitted.
        tracking: Follow solar rotation (sunpy's ``tracking``; sent as ``t=0`` when True).
        register_images: Register the images (``r``; sunpy's ``register``, also accepted).
        nan_off_limb: Set off-limb pixels to NaN (``c``).
        locunits: Units of ``x``/``y``: ``arcsec``, ``pixels``, ``stony`` or ``carrlong``.
        boxunits: Units of ``width``/``height``: ``arcsec``, ``pixels`` or ``degrees``.

    Example:
        ```python
        from prefect_jsoc.query import Cutout
        Cutout(x=-450, y=-250, width=100, height=50)
        ```
    """

    _error_class: ClassVar = InvalidCutoutError

    x: Annotated[float, BeforeValidator(lambda v: _number(v, "x"))]
    y: Annotated[float, BeforeValidator(lambda v: _number(v, "y"))]
    width: Annotated[float, BeforeValidator(lambda v: _number(v, "width", positive=True))]
    height: Annotated[float, BeforeValidator(lambda v: _number(v, "height", positive=True))]
    t_ref: dt.datetime | None = None
    tracking: bool = False
    register_images: bool = Field(default=False, validation_alias=AliasChoices("register_images", "register"))
    nan_off_limb: bool = False
    locunits: Annotated[LocUnits, BeforeValidator(choice(LocUnits, "The cut-out locunits", InvalidCutoutError))] = (
        "arcsec"
    )
    boxunits: Annotated[BoxUnits, BeforeValidator(choice(BoxUnits, "The cut-out boxunits", InvalidCutoutError))] = (
        "arcsec"
    )

    @field_validator("t_ref", mode="before")
    @classmethod
    def _read_t_ref(cls, value: Any) -> dt.datetime | None:
        return None if value is None else parse_time(value, what="cut-out reference")

    @classmethod
    def _missing_field_error(cls, name: str) -> InvalidCutoutError:
        return InvalidCutoutError(f"The cut-out needs {name!r}; give x, y, width and height.")

    @classmethod
    def coerce(cls, value: Any) -> Cutout:
        """Build a cut-out from a :class:`Cutout`, a mapping, drms ``im_patch`` options or a sunpy ``Cutout``.

        Raises:
            InvalidCutoutError: When the value is none of these, or its parameters are invalid.
        """
        if isinstance(value, Cutout):
            return value
        if isinstance(value, Mapping):
            options = dict(value)
            if {"t", "r", "c"} & set(options):  # sunpy's Cutout.value / drms im_patch keys
                options = {
                    **{k: options.get(k) for k in ("x", "y", "width", "height", "t_ref")},
                    "tracking": not bool(int(options.get("t", 1))),
                    "register_images": bool(int(options.get("r", 0))),
                    "nan_off_limb": bool(int(options.get("c", 0))),
                    **{k: options[k] for k in ("locunits", "boxunits") if k in options},
                }
            return cls(**options)
        raw = getattr(value, "value", None)  # a sunpy attrs Cutout keeps its options in .value
        if isinstance(raw, Mapping):
            return cls.coerce(raw)
        raise InvalidCutoutError(f"The cut-out must be a Cutout, a mapping or a sunpy Cutout, got {preview(value)}.")

    def process(self, default_t_ref: dt.datetime | None = None) -> dict[str, dict[str, Any]]:
        """Return the ``process`` mapping drms sends as ``process=n`` (``{"im_patch": {...}}``)."""
        t_ref = self.t_ref or default_t_ref
        options: dict[str, Any] = {}
        if t_ref is not None:
            utc = t_ref.astimezone(dt.UTC)
            options["t_ref"] = utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}"
        options.update(
            t=int(not self.tracking),
            r=int(self.register_images),
            c=int(self.nan_off_limb),
            locunits=self.locunits,
            boxunits=self.boxunits,
            x=self.x,
            y=self.y,
            width=self.width,
            height=self.height,
        )
        return {"im_patch": options}
