"""The one transaction boundary of the faces: what a view's block wrote is committed when
the block ends, rolled back on any exception. Services flush; only this commits a request.

    with transaction():                  # the API, and actions the user cannot get wrong
        revoke_token(token)              # any exception: rolled back, then raised

    with transaction(form) as saved:     # a form: the user's mistakes are answered, not raised
        record = create_record(entity, data)
    if saved:                            # committed
        flash(_("Created."), "success")
        return redirect(...)
    return render_template(...), 422     # the service's messages are on the form's fields

`transaction(form)` (or `transaction(user_errors=True)` for an action without a form)
catches a `ValidationError` or a `MailError` after rolling back: the messages go onto the
fields of `form` that they name, and the others are flashed ("danger"); with
`flash_errors=False` they are only kept, in `saved.messages` (a page that lists them) and
`saved.errors` (all of them, by field, "" for the whole: a page that places them itself).
Any other exception is rolled back and raised.

A view's success message is flashed after the block, so after the commit; error messages are
flashed after the rollback, and are the service's own texts (or the mail error's), already
translated: nothing reads the database between the rollback and the page.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import flash
from flask_wtf import FlaskForm

from app.errors import ValidationError
from app.extensions import db
from app.forms import apply_errors
from app.mail import MailError

# What the user can fix (his input, a mail address or server): answered, not raised.
USER_ERRORS = (ValidationError, MailError)


@dataclass
class Outcome:
    """What a `transaction()` block came to; true when it was committed."""

    ok: bool = False
    # The user's mistakes by field ("" for the whole), when the block failed.
    errors: dict[str, str] = field(default_factory=dict)
    # Those no field of the form shows.
    messages: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.ok


@contextmanager
def transaction(form: FlaskForm | None = None, *, user_errors: bool = False,
                flash_errors: bool = True) -> Iterator[Outcome]:
    """Commit the block's writes when it ends; roll back on any exception (see the module)."""
    outcome = Outcome()
    try:
        yield outcome
        db.session.commit()
    except USER_ERRORS as exc:
        db.session.rollback()
        if form is None and not user_errors:
            raise
        outcome.errors = dict(exc.errors) if isinstance(exc, ValidationError) \
            else {"": str(exc)}
        outcome.messages = apply_errors(form, outcome.errors) if form is not None \
            else list(outcome.errors.values())
        if flash_errors:
            for message in outcome.messages:
                flash(message, "danger")
    except BaseException:
        db.session.rollback()
        raise
    else:
        outcome.ok = True
