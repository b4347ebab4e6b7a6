"""The Deform form cycle for views: build, check that it was posted, validate, render.

Three of Deform's templates are our own (``templates/deform/``, searched before Deform's):
the form's error box lists each field that needs a change, by its title and linked to it,
rather than "Errors have been highlighted below"; each field's message is always shown beside
it (Bootstrap hid it under a checkbox); and a checkbox in error is marked invalid.
"""

from importlib.resources import files

import colander
import deform
from deform.template import ZPTRendererFactory
from markupsafe import Markup

RENDERER = ZPTRendererFactory((str(files("tracking") / "templates" / "deform"), str(files("deform") / "templates")))


class FormHandler:
    """One Deform form on a page.

    ``posted()`` tells whether this form (by its ``__formid__``) was submitted, ``validate()``
    returns the appstruct or ``None`` (keeping the failure to re-render it with the messages
    next to the fields), and ``html`` is the markup to put in the page.
    """

    def __init__(self, request, schema, *, formid: str, button: str, action: str = "", appstruct=None,
                 danger: bool = False, **bind):
        """``danger``: the button does what cannot be undone (red)."""
        self.request = request
        self.form = deform.Form(
            schema.bind(request=request, **bind),
            formid=formid,
            action=action,
            buttons=(deform.Button(name="submit", title=button, css_class="btn-danger" if danger else "btn-primary"),),
            renderer=RENDERER,
        )
        self.appstruct = appstruct if appstruct is not None else colander.null
        self.failure: deform.ValidationFailure | None = None

    def posted(self) -> bool:
        return self.request.method == "POST" and self.request.POST.get("__formid__") == self.form.formid

    def validate(self) -> dict | None:
        try:
            return self.form.validate(self.request.POST.items())
        except deform.ValidationFailure as failure:
            self.failure = failure
            return None

    def fail(self, message: str, field: str | None = None) -> None:
        """Show ``message`` beside ``field`` (and in the box above the form), or in the box
        alone (a form-level error), keeping what was typed (but passwords)."""
        error = colander.Invalid(self.form.schema, None if field else message)
        if field:
            error[field] = message
        self.form.widget.handle_error(self.form, error)
        cstruct = dict(self.request.POST.items())
        for secret in ("password", "current_password", "new_password"):
            cstruct.pop(secret, None)
        self.failure = deform.ValidationFailure(self.form, cstruct, error)

    def fail_with(self, error: colander.Invalid) -> None:
        """Show ``error`` (with its children: messages beside fields), keeping what was typed."""
        self.form.widget.handle_error(self.form, error)
        self.failure = deform.ValidationFailure(self.form, dict(self.request.POST.items()), error)

    @property
    def html(self) -> Markup:
        if self.failure is not None:
            return Markup(self.failure.render())
        return Markup(self.form.render(self.appstruct))
