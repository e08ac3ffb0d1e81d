import pytest

from core.errors import NotFound, ValidationError
from core.validation import ID_MAX, contains_nul, parse_id, reject_nul, to_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1),
        ("1", 1),
        ("42", 42),
        (ID_MAX, 2**63 - 1),
        (str(2**63 - 1), 2**63 - 1),
        (2**63, None),
        ("9223372036854775808", None),
        ("9" * 5000, None),  # past Python's digit limit: refused, not an error
        (0, None),
        ("0", None),
        (-1, None),
        ("-1", None),
        (-(2**63), None),
        (True, None),
        (1.0, None),
        ("1.5", None),
        ("abc", None),
        ("", None),
        ("1\x00", None),
        (None, None),
        ([1], None),
    ],
)
def test_to_id_accepts_exactly_the_ids_a_bigint_key_can_hold(value, expected):
    assert to_id(value) == expected


def test_parse_id_answers_not_found_for_what_cannot_be_an_id():
    assert parse_id("7", what="incident") == 7
    with pytest.raises(NotFound) as info:
        parse_id("9223372036854775808", what="incident")
    assert str(info.value) == "No such incident."


def test_reject_nul_keys_the_refusal_by_field():
    assert reject_nul("fine text", field="summary") == "fine text"
    assert not contains_nul("fine") and contains_nul("a\x00b") and not contains_nul(None)
    with pytest.raises(ValidationError) as info:
        reject_nul("a\x00b", field="summary")
    assert (info.value.field, info.value.code) == ("summary", "null_characters_not_allowed")
