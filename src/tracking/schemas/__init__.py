"""Colander schemas for the HTML forms, bound to the request (``schema.bind(request=request)``)."""

import unicodedata

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


def no_control_characters(node, value):
    """A name or label is one line of text: no NUL (which PostgreSQL cannot store) nor any other
    control character."""
    if isinstance(value, str) and any(unicodedata.category(char) == "Cc" for char in value):
        raise colander.Invalid(node, "Remove the control characters (tabs, line breaks…).")
