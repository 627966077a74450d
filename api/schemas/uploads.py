"""The file parts of multipart/form-data bodies."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_smorest.fields import Upload
from werkzeug.datastructures import FileStorage


class FilePart(Upload):
    """A file of the form: a text field of the same name (`curl -F file=export.csv`, the @
    forgotten) is refused, never read as a file."""

    default_error_messages = {"invalid": _l("Send a file in this field, not text.")}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> FileStorage:
        if not isinstance(value, FileStorage):
            raise self.make_error("invalid")
        return value
