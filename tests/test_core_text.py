"""The boundary rule for text and times that enter from outside (oncall/core/text.py)."""

from datetime import UTC, datetime, timedelta

import pytest

from oncall.core.text import (
    TextRefused,
    check_mapping,
    check_moment,
    check_segment,
    check_text,
)


def test_it_lets_ordinary_text_through_unchanged():
    for value in ["PaymentsApiHighErrorRate", "証明書の期限切れ", "a\tb\nc", "😀", ""]:
        assert check_text(value, name="summary") == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("x\x00y", "summary holds a NUL character"),
        ("x\udfff", "summary holds a lone surrogate (U+DFFF)"),
        ("\ud800", "summary holds a lone surrogate (U+D800)"),
    ],
)
def test_it_refuses_nul_and_lone_surrogates_by_name(value, reason):
    with pytest.raises(TextRefused) as refused:
        check_text(value, name="summary")
    assert str(refused.value) == reason


def test_a_mapping_names_the_entry_that_is_refused():
    assert check_mapping({"team": "payments"}, name="labels") == {"team": "payments"}
    with pytest.raises(TextRefused, match=r"labels\['team'\] holds a NUL character"):
        check_mapping({"alertname": "A", "team": "pay\x00"}, name="labels")
    with pytest.raises(TextRefused, match="labels: a key holds a lone surrogate"):
        check_mapping({"\udfff": "x"}, name="labels")


@pytest.mark.parametrize("char", ["\n", "\r", "\t", "\x1b", "\x7f"])
def test_a_path_segment_refuses_control_characters(char):
    assert check_segment("disk-full.md", name="file name") == "disk-full.md"
    with pytest.raises(TextRefused, match=r"file name holds a control character \(U\+00"):
        check_segment(f"disk{char}full.md", name="file name")


def test_times_are_bounded_to_the_years_2000_to_2999_or_closer():
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    assert check_moment(now, name="startsAt") == now
    with pytest.raises(TextRefused, match="startsAt 9999-12-31T23:59:59"):
        check_moment(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), name="startsAt")
    with pytest.raises(TextRefused, match="before 2000-01-01"):
        check_moment(datetime(1999, 12, 31, tzinfo=UTC), name="startsAt")
    day_ahead = now + timedelta(days=1)
    assert check_moment(day_ahead, name="startsAt", latest=day_ahead) == day_ahead
    with pytest.raises(TextRefused, match="is after"):
        check_moment(day_ahead + timedelta(seconds=1), name="startsAt", latest=day_ahead)
