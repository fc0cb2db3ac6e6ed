"""Search value escaping (http://hl7.org/fhir/R4/search.html#escaping): a value with the
separators in it survives the trip through a search parameter."""

from __future__ import annotations

from khealth.fhir.search_values import escape, split_escaped, unescape


def test_an_escaped_value_splits_as_one_and_unescapes_to_itself() -> None:
    value = "a,b|c$d\\e"
    escaped = escape(value)
    assert escaped == "a\\,b\\|c\\$d\\\\e"
    (one,) = split_escaped(escaped, ",")
    assert unescape(one) == value
