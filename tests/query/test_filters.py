"""KeywordFilter.parse (also what the CLI's --keyword uses): every operator spelling, typed refusals."""

from __future__ import annotations

import re

import pytest

from prefect_jsoc.errors import InvalidKeywordFilterError
from prefect_jsoc.query import KeywordFilter


@pytest.mark.parametrize(
    ("spec", "rendered"),
    [
        ("QUALITY=0", "QUALITY='0'"),
        ("QUALITY == 0", "QUALITY='0'"),
        ("QUALITY!=0", "QUALITY!='0'"),
        ("QUALITY<>0", "QUALITY!='0'"),
        ("EXPTIME<2", "EXPTIME<'2'"),
        ("EXPTIME<=2", "EXPTIME<='2'"),
        ("EXPTIME>2", "EXPTIME>'2'"),
        ("EXPTIME >= 2.5", "EXPTIME>='2.5'"),
        ("OBS_MODE='IQUV'", "OBS_MODE='IQUV'"),
        ('NOTE="=odd"', "NOTE='=odd'"),
        ("DATAMEAN>-5", "DATAMEAN>'-5'"),
        (("EXPTIME", ">", 2), "EXPTIME>'2'"),
        ({"name": "QUALITY", "op": "==", "value": 0}, "QUALITY='0'"),
    ],
)
def test_every_allowed_spelling_parses(spec, rendered):
    assert KeywordFilter.parse(spec).render() == rendered


@pytest.mark.parametrize(
    ("spec", "typed", "meant"),
    [
        ("QUALITY=>0", "=>", ">="),
        ("QUALITY=<0", "=<", "<="),
        ("QUALITY=!0", "=!", "!="),
        ("QUALITY!==0", "!==", "!="),
        ("QUALITY===0", "===", "="),
        ("QUALITY><0", "><", "!="),
        (("QUALITY", "=>", 0), "=>", ">="),
    ],
)
def test_misspelt_operators_are_refused_with_a_suggestion(spec, typed, meant):
    # QUALITY=>0 used to be read as QUALITY = '>0'
    with pytest.raises(
        InvalidKeywordFilterError,
        match=re.escape(
            f"Keyword filter 'QUALITY' uses the operator {typed!r}; the allowed operators are =, !=, <, <=, >, >=. "
            f"Did you mean {meant!r}?"
        ),
    ):
        KeywordFilter.parse(spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("QUALITY", "Keyword filter 'QUALITY' needs to have a comparison to a value"),
        ("QUALITY=", "Keyword filter 'QUALITY=' needs to have a comparison to a value"),
        ("QUALITY~0", "Keyword filter 'QUALITY~0' needs to have a comparison to a value"),
        ("QUALITY>>0", "uses the operator '>>'; the allowed operators are =, !=, <, <=, >, >=."),
        ("QUALITY=0' OR '1'='1", "cannot be used in a DRMS record set"),
        ("2BAD=0", "needs to have a comparison"),
        (("BAD NAME", "=", 0), "Keyword filter name 'BAD NAME' is not a valid DRMS name"),
        (("QUALITY", "=", None), "The value of keyword filter 'QUALITY' must be a string or a number, got None."),
        ({"name": "QUALITY", "op": "="}, "A keyword filter needs a name, an operator and a value; value= is missing."),
        (42, "Keyword filter 42 must be a KeywordFilter, a (name, op, value) tuple, a mapping or a string"),
    ],
)
def test_bad_filters_raise_typed_errors(spec, message):
    with pytest.raises(InvalidKeywordFilterError, match=re.escape(message)):
        KeywordFilter.parse(spec)


def test_a_filter_renders_with_the_server_spelling():
    assert KeywordFilter.parse("quality=0").render("QUALITY") == "QUALITY='0'"
