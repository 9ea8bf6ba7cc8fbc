"""JSOC queries: the pure model, record sets against a series layout, packing, and sunpy attrs.

Nothing here talks to the network. A :class:`JsocQuery` checks its own shape; ``validate``
checks it against the series on the server and returns a :class:`ValidatedQuery`, whose record set
is one JSOC accepts and which several blocks can share through :func:`pack_recordset`.

Modules, one job each:

* ``model``: :class:`JsocQuery`; ``fields``: what each field accepts; ``filters``:
  :class:`KeywordFilter`; ``cutout``: :class:`Cutout`; ``times``: time and duration parsing;
* ``render``: :class:`SeriesLayout` and record-set rendering; ``validated``:
  :class:`ValidatedQuery` and :func:`pack_recordset`; ``selection``: which records an item selects;
* ``expand``: :func:`or_queries`, :func:`split_interval`, :func:`queries_from`; ``attrs``: the sunpy adapter.
"""

from __future__ import annotations

from prefect_jsoc.errors import CannotPackError
from prefect_jsoc.query.cutout import Cutout
from prefect_jsoc.query.expand import or_queries, queries_from, split_interval
from prefect_jsoc.query.filters import KeywordFilter
from prefect_jsoc.query.model import JsocQuery
from prefect_jsoc.query.render import SeriesLayout
from prefect_jsoc.query.selection import parse_record_spec
from prefect_jsoc.query.times import parse_duration, parse_time
from prefect_jsoc.query.validated import ValidatedQuery, pack_recordset

__all__ = [
    "CannotPackError",
    "Cutout",
    "JsocQuery",
    "KeywordFilter",
    "SeriesLayout",
    "ValidatedQuery",
    "or_queries",
    "pack_recordset",
    "parse_duration",
    "parse_record_spec",
    "parse_time",
    "queries_from",
    "split_interval",
]
