"""Colander schemas for the HTML forms, bound to the request (``schema.bind(request=request)``)."""

import colander
import deform
from pyramid.csrf import get_csrf_token


@colander.deferred
def _csrf_token(node, kw):
    return get_csrf_token(kw["request"])


class CSRFSchema(colander.MappingSchema):
    """Every form carries ``csrf_token``; Pyramid's ``require_csrf`` checks it before any view runs."""

    csrf_token = colander.SchemaNode(
        colander.String(),
        widget=deform.widget.HiddenWidget(),
        default=_csrf_token,
        missing=colander.drop,
    )
