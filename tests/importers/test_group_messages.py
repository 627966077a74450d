"""A group of row errors reads as one message: its value when the group is about a value,
"…" for what differs from row to row (a line number, a key, a reason)."""
from __future__ import annotations

from flask_babel import force_locale

from app.models import ImportRowError
from importers.row_messages import group_message

LEFT_OUT = "Not imported: line %(line)d of the same document failed."
REPEATED = "The key “%(key)s” is repeated: line %(first)d and line %(line)d."
NO_CUSTOMER = "No customer with the reference “%(ref)s”."


def _error(message_id: str, **params) -> ImportRowError:
    return ImportRowError(line=9, column=None, value=params.get("ref"),
                          message=message_id % params, message_id=message_id,
                          message_params=params)


def test_what_differs_from_row_to_row_reads_as_an_ellipsis(app):
    with app.test_request_context(), force_locale("en"):
        assert group_message(_error(LEFT_OUT, line=8), False) == \
            "Not imported: line … of the same document failed."
        assert group_message(_error(REPEATED, key="F1", first=2, line=9), False) == \
            "The key “…” is repeated: line … and line …."
        assert group_message(_error(NO_CUSTOMER, ref="C404"), True) == \
            "No customer with the reference “C404”."


def test_a_groups_message_reads_in_french(app):
    with app.test_request_context(), force_locale("fr"):
        message = group_message(_error(LEFT_OUT, line=8), False)
    assert "…" in message and "8" not in message and "Not imported" not in message
