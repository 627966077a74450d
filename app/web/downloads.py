"""Downloads whose body is written while the response streams."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import AnyStr

from flask import Response, stream_with_context

from app.tenancy import current_actor, current_tenant_id, tenant_context


def download(body: Iterable[AnyStr], *, filename: str, mimetype: str) -> Response:
    """A file download streamed from `body`, read under the current tenant and actor.

    The body is read after the view has returned: the request's context is kept
    (stream_with_context) and the tenant bound again around it. Pass a lazy iterable (a
    generator) so that its reads start there, not in the view.
    """
    tenant_id, actor = current_tenant_id(), current_actor()

    def chunks() -> Iterator[AnyStr]:
        with tenant_context(tenant_id, actor):
            yield from body

    return Response(stream_with_context(chunks()), mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
