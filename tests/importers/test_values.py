"""Cell parsers: the French and English ways of writing numbers, dates and yes/no in a feed."""
from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importers.row_messages import cell_message
from importers.values import (
    OUT_OF_RANGE,
    InvalidValue,
    make_date_parser,
    make_decimal_parser,
    parse_bool,
    parse_int,
    parse_text,
)

D = Decimal
NBSP, NNBSP = "\u00a0", "\u202f"


# --- Dates ----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    "31/12/2025", "31.12.2025", "31-12-2025", "2025-12-31", "31/12/25", " 31/12/2025 ",
    "2025/12/31", "2025-12-31T00:00:00", "2025-12-31 08:15:00", "2025-12-31T08:15:00+01:00",
    "31/12/2025 23:59", "31.12.25",
])
def test_auto_dates(raw):
    assert make_date_parser()(raw) == date(2025, 12, 31)


def test_auto_dates_are_day_first_and_zero_padding_is_optional():
    parse = make_date_parser("auto")
    assert parse("01/02/2025") == date(2025, 2, 1)
    assert parse("1/2/2025") == date(2025, 2, 1)
    assert parse("2025-2-1") == date(2025, 2, 1)


def test_two_digit_years_follow_strptime():
    parse = make_date_parser()
    assert parse("01/01/68") == date(2068, 1, 1)
    assert parse("01/01/69") == date(1969, 1, 1)


def test_real_dates_from_a_workbook():
    parse = make_date_parser()
    assert parse(datetime(2025, 12, 31, 17, 30)) == date(2025, 12, 31)
    assert parse(date(2025, 12, 31)) == date(2025, 12, 31)


@pytest.mark.parametrize("serial, expected", [
    (46022, date(2025, 12, 31)), (46022.75, date(2025, 12, 31)), (61, date(1900, 3, 1)),
    (2, date(1900, 1, 1)),
])
def test_excel_serial_numbers_from_a_workbook(serial, expected):
    assert make_date_parser()(serial) == expected


# 1 is 1899-12-31: a date before 1900, refused as every write refuses it.
@pytest.mark.parametrize("raw", [0, 1, -3, 3_000_000, float("nan"), float("inf"), True])
def test_impossible_serial_numbers(raw):
    with pytest.raises(ValueError):
        make_date_parser()(raw)


@pytest.mark.parametrize("raw", [
    "46022", "31/12", "32/12/2025", "29/02/2025", "12/31/2025", "2025-13-01", "31/12/2025x",
    "demain", "31 décembre 2025", "2025-12-31T25:00", "31/12-2025", "٣١/١٢/٢٠٢٥",
])
def test_not_dates(raw):
    with pytest.raises(ValueError, match="is not a date"):
        make_date_parser()(raw)


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_empty_date_is_none(raw):
    assert make_date_parser()(raw) is None
    assert make_date_parser("%d/%m/%Y")(raw) is None


def test_pinned_format_accepts_only_that_format():
    parse = make_date_parser("%d/%m/%Y")
    assert parse("31/12/2025") == date(2025, 12, 31)
    assert parse("1/2/2025") == date(2025, 2, 1)
    assert parse(datetime(2025, 12, 31, 10)) == date(2025, 12, 31)
    for raw in ("2025-12-31", "31.12.2025", "31/12/25", "46022"):
        with pytest.raises(InvalidValue) as refused:
            parse(raw)
        # The row's message shows the format expected as a date written in it, not as
        # strftime's pattern.
        message, params = cell_message(refused.value, "%d/%m/%Y", "auto")
        assert str(message) % params == f"“{raw}” is not a date: write it as 31/12/2025."
    with pytest.raises(ValueError):
        parse(46022)  # serial numbers only in auto


@pytest.mark.parametrize("date_format, raw", [
    ("%m/%d/%Y", "12/31/2025"), ("%Y%m%d", "20251231"), ("%d.%m.%y", "31.12.25"),
    ("%d %B %Y", "31 December 2025"), ("%Y-%m-%d %H:%M", "2025-12-31 10:30"),
    ("%d/%m/%Y %H:%M:%S", "31/12/2025 10:30:00"), ("%j/%Y", "365/2025"),
])
def test_other_pinned_formats(date_format, raw):
    assert make_date_parser(date_format)(raw) == date(2025, 12, 31)


def test_pinned_regex_and_strptime_agree_on_bad_dates():
    with pytest.raises(ValueError):
        make_date_parser("%d/%m/%Y")("31/02/2025")
    with pytest.raises(ValueError):
        make_date_parser("%d %B %Y")("31 February 2025")


@pytest.mark.parametrize("date_format", ["%Q", "%d/%m/%Y %", "%"])
def test_unusable_date_format(date_format):
    with pytest.raises(ValueError, match="Unknown date format"):
        make_date_parser(date_format)


# --- Decimals -------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("1 234,56", D("1234.56")), (f"1{NBSP}234,56", D("1234.56")),
    (f"1{NNBSP}234{NNBSP}567,5", D("1234567.5")), ("1.234,56", D("1234.56")),
    ("1,234.56", D("1234.56")), ("1234.56", D("1234.56")), ("1234,56", D("1234.56")),
    ("-12", D("-12")), ("+12", D("12")), ("−12,5", D("-12.5")), ("12 €", D("12")),
    ("12,50 €", D("12.50")), ("€12.50", D("12.50")), ("- 1 234,56 €", D("-1234.56")),
    ("1.234.567", D("1234567")), ("1,234,567", D("1234567")), ("1'234.50", D("1234.50")),
    ("1,234", D("1.234")), ("1.234", D("1.234")), (",5", D("0.5")), (" 42 ", D("42")),
    ("0", D("0")), ("000123,4", D("123.4")), ("1.234.567,89", D("1234567.89")),
    ("999999999999999", D("999999999999999")),
])
def test_auto_decimals(raw, expected):
    value = make_decimal_parser()(raw)
    assert value == expected and isinstance(value, Decimal)


def test_auto_decimals_keep_the_written_scale():
    assert str(make_decimal_parser()("12,50")) == "12.50"


@pytest.mark.parametrize("raw, expected", [
    ("1,234", D("1.234")), ("1.234", D("1234")), ("1.234,5", D("1234.5")),
    ("1 234,5", D("1234.5")), ("12", D("12")), ("1.234.567", D("1234567")),
])
def test_pinned_decimal_comma(raw, expected):
    assert make_decimal_parser(",")(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("1,234", D("1234")), ("1.234", D("1.234")), ("1,234.5", D("1234.5")),
    ("1 234.5", D("1234.5")), ("1,234,567", D("1234567")),
])
def test_pinned_decimal_point(raw, expected):
    assert make_decimal_parser(".")(raw) == expected


@pytest.mark.parametrize("decimal, raw", [
    (",", "1.5"), (",", "1,2,3"), (",", "1,234.5"), (".", "1,5"), (".", "1.234.567"),
    (".", "1.234,5"),
])
def test_pinned_separator_refuses_the_other_reading(decimal, raw):
    with pytest.raises(ValueError, match="is not a number"):
        make_decimal_parser(decimal)(raw)


@pytest.mark.parametrize("raw", [
    "NaN", "nan", "Infinity", "-inf", "1e5", "1,5E+12", "12,", "abc", "1 23", "12 34,5",
    "1.2.3", "1,2.5", "1.234,567.89", "--1", "€", "-", "(12,50)", "1 234 56", "٣", "0x10",
    "1_000", "12 $",
])
def test_not_numbers(raw):
    with pytest.raises(ValueError, match="is not a number"):
        make_decimal_parser()(raw)


@pytest.mark.parametrize("raw", [
    "1234567890123456", "1 234 567 890 123 456,5", "-9999999999999999.9", 1e16, 10**16,
    Decimal("1E+20"),
])
def test_more_than_15_integer_digits(raw):
    with pytest.raises(ValueError, match="The number is too large."):
        make_decimal_parser()(raw)


@pytest.mark.parametrize("raw, expected", [
    (1234, D("1234")), (12.5, D("12.5")), (0.1, D("0.1")), (-3.0, D("-3.0")),
    (D("12.34"), D("12.34")),
])
def test_decimals_from_a_workbook(raw, expected):
    assert make_decimal_parser(",")(raw) == expected


@pytest.mark.parametrize("raw", [float("nan"), float("inf"), True, D("NaN"), date.today()])
def test_workbook_values_that_are_not_numbers(raw):
    with pytest.raises(ValueError, match="is not a number"):
        make_decimal_parser()(raw)


@pytest.mark.parametrize("raw", [None, "", "  ", NBSP])
def test_empty_decimal_is_none(raw):
    assert make_decimal_parser()(raw) is None


def test_unknown_decimal_mode():
    with pytest.raises(ValueError):
        make_decimal_parser(";")


# --- Integers, booleans, text ---------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("42", 42), ("-42", -42), ("+7", 7), (" 1 234 ", 1234), (f"1{NBSP}234", 1234),
    ("1'234", 1234), ("12.0", 12), ("12,00", 12), ("007", 7), (12, 12), (12.0, 12),
    (D("12"), 12), ("−5", -5), ("999999999999999999", 999999999999999999),
])
def test_integers(raw, expected):
    assert parse_int(raw) == expected


@pytest.mark.parametrize("raw", ["12.5", "1,5", "1e3", "abc", "1 23", 1.5, True, float("nan"),
                                 float("inf"), D("1.5"), D("NaN"), "1.234"])
def test_not_integers(raw):
    with pytest.raises(ValueError, match="is not a whole number"):
        parse_int(raw)


@pytest.mark.parametrize("raw", ["1234567890123456789", 10**19, 1e19, D("1E+18"),
                                 D("1E+9990800")])
def test_integers_too_large(raw):
    with pytest.raises(ValueError, match="too large"):
        parse_int(raw)


@pytest.mark.parametrize("raw", [None, "", " "])
def test_empty_integer_is_none(raw):
    assert parse_int(raw) is None


@pytest.mark.parametrize("raw", ["oui", "OUI", "Vrai", "yes", "TRUE", "1", "x", "X", "o", "y",
                                 " Oui ", True, 1, 1.0])
def test_true_words(raw):
    assert parse_bool(raw) is True


@pytest.mark.parametrize("raw", ["non", "Non", "FAUX", "no", "false", "0", "n", "N", False, 0,
                                 0.0])
def test_false_words(raw):
    assert parse_bool(raw) is False


def test_a_feed_reads_yes_and_no_as_forms_do():
    from app.values import parse_bool as typed

    for word in ("on", "OFF", "oui", "non", "x", "0"):
        assert parse_bool(word) is typed(word)


def test_booleans_ignore_accents():
    assert parse_bool("ÓUI") is True and parse_bool("nón") is False and parse_bool("vraî")


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_empty_boolean_is_none(raw):
    assert parse_bool(raw) is None


@pytest.mark.parametrize("raw", ["peut-être", "2", "oui non", 2, 0.5])
def test_not_booleans(raw):
    with pytest.raises(ValueError, match="is not yes or no"):
        parse_bool(raw)


def test_text_is_stripped_and_bounded():
    parse = parse_text(10)
    assert parse("  Société  ") == "Société"
    assert parse("") is None and parse("   ") is None and parse(None) is None
    assert parse("x" * 10) == "x" * 10
    with pytest.raises(ValueError, match="At most 10 characters."):
        parse("x" * 11)


@pytest.mark.parametrize("raw, expected", [
    (75001, "75001"), (75001.0, "75001"), (12.5, "12.5"), (True, "true"),
    (datetime(2025, 12, 31), "2025-12-31"), (datetime(2025, 12, 31, 8, 5), "2025-12-31 08:05:00"),
    (date(2025, 12, 31), "2025-12-31"), (time(8, 5), "08:05:00"), (D("1.50"), "1.50"),
])
def test_text_from_workbook_values(raw, expected):
    assert parse_text(50)(raw) == expected


def test_errors_carry_a_translatable_message_and_params():
    with pytest.raises(InvalidValue) as error:
        make_decimal_parser()("douze")
    assert error.value.message_id == "“%(value)s” is not a number."
    assert error.value.params == {"value": "douze"}
    assert str(error.value) == "“douze” is not a number."


def test_long_values_are_shortened_in_messages():
    with pytest.raises(ValueError) as error:
        make_date_parser()("x" * 500)
    assert len(str(error.value)) < 80


# --- Properties: on any text, a parser answers a value, None or ValueError ------------------

@settings(max_examples=200, deadline=None)
@given(raw=st.one_of(st.text(max_size=40), st.text(alphabet="0123456789 ,.-+€'\u00a0/:T",
                                                  max_size=25)),
       date_format=st.sampled_from(["auto", "%d/%m/%Y", "%Y-%m-%d %H:%M", "%d %B %Y"]),
       decimal=st.sampled_from(["auto", ",", "."]))
def test_parsers_never_raise_anything_but_value_error(raw, date_format, decimal):
    for parse in (make_date_parser(date_format), make_decimal_parser(decimal), parse_int,
                  parse_bool, parse_text(20)):
        try:
            parse(raw)
        except ValueError as exc:
            assert str(exc)  # renders


@settings(max_examples=200, deadline=None)
@given(value=st.decimals(min_value=-10**14, max_value=10**14, places=2),
       style=st.sampled_from(["fr", "en", "plain_comma", "plain_point"]))
def test_written_amounts_read_back(value, style):
    whole, _, cents = f"{abs(value):.2f}".partition(".")
    groups = f"{int(whole):,}"
    text = {
        "fr": groups.replace(",", NNBSP) + "," + cents,
        "en": groups + "." + cents,
        "plain_comma": whole + "," + cents,
        "plain_point": whole + "." + cents,
    }[style]
    text = ("-" if value < 0 else "") + text
    assert make_decimal_parser()(text) == value
    pinned = "," if style in ("fr", "plain_comma") else "."
    assert make_decimal_parser(pinned)(text) == value


@settings(max_examples=200, deadline=None)
@given(day=st.dates(min_value=date(1901, 1, 1), max_value=date(2999, 12, 31)),
       separator=st.sampled_from("/.-"))
def test_written_dates_read_back(day, separator):
    parse = make_date_parser()
    assert parse(day.strftime(f"%d{separator}%m{separator}%Y")) == day
    assert parse(day.isoformat()) == day
    assert make_date_parser(f"%d{separator}%m{separator}%Y")(
        day.strftime(f"%d{separator}%m{separator}%Y")) == day


@pytest.mark.parametrize("date_format, raw", [
    ("auto", "31/02/2025"), ("auto", "29/02/2025"), ("auto", "2025-06-31"),
    ("%d/%m/%Y", "31/04/2026"), ("%Y-%m-%d", "2026-02-30")])
def test_a_date_written_right_that_does_not_exist_is_said_so(date_format, raw):
    # "write it as 31/12/2025" would tell someone who wrote 31/02/2025 to write what he wrote.
    with pytest.raises(InvalidValue) as refused:
        make_date_parser(date_format)(raw)
    message, params = cell_message(refused.value, date_format, "auto")
    assert str(message) % params == f"“{raw}” is not a date: there is no such day."


@pytest.mark.parametrize("raw", ["32/12/2025", "12/31/2025", "2025-13-01"])
def test_a_day_or_month_out_of_any_calendar_asks_for_the_format(raw):
    with pytest.raises(InvalidValue) as refused:
        make_date_parser("auto")(raw)
    message, params = cell_message(refused.value, "auto", "auto")
    assert str(message) % params == f"“{raw}” is not a date: write it as 31/12/2025."


@pytest.mark.parametrize("raw", ["01/01/0202 10:00", "0202-01-01T10:00:00", "01/01/3001",
                                 datetime(1899, 12, 31, 23, 0)])
def test_a_moment_outside_1900_to_2999_is_refused_as_every_write_refuses_it(raw):
    from importers.convert import _moment_converter

    with pytest.raises(InvalidValue) as refused:
        _moment_converter(make_date_parser())(raw)
    assert refused.value.message_id == OUT_OF_RANGE._args[0]
