"""Forms of the site pages: add, edit, delete."""

import ipaddress
import re
import uuid
import zoneinfo
from functools import cache
from urllib.parse import urlsplit

import colander
import deform
from sqlalchemy import select

from ..models import Site
from . import CSRFSchema, no_control_characters

_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")


@cache
def timezones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def normalize_site_url(value: str) -> str:
    """``Example.COM/blog?x#y`` → ``https://example.com``; raises ``ValueError`` for anything else.

    A site is a scheme and a host (with a port when not the default one); the path, query and
    fragment people paste along are dropped. Without a scheme, ``https`` is assumed.
    """
    text = value.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError("This is not a valid web address.") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("Use an http or https address.")
    if parts.username or parts.password:
        raise ValueError("A site address has no user name or password.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError("This address has no host name.")
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise ValueError("This host name is not valid.") from exc
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in host.split(".")):
            raise ValueError("This host name is not valid.") from None
    scheme = parts.scheme.lower()
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}"


def _site_url(node, value):
    try:
        normalize_site_url(value)
    except ValueError as exc:
        raise colander.Invalid(node, str(exc)) from None


def _preparer_site_url(value):
    if not isinstance(value, str):
        return value
    try:
        return normalize_site_url(value)
    except ValueError:
        return value


class SiteSchema(CSRFSchema):
    name = colander.SchemaNode(
        colander.String(),
        title="Name",
        missing_msg="Enter a name for the site.",
        preparer=lambda v: v.strip() if isinstance(v, str) else v,
        validator=colander.All(colander.Length(min=1, max=100), no_control_characters),
    )
    url = colander.SchemaNode(
        colander.String(),
        title="Address",
        missing_msg="Enter the site's address, e.g. https://example.com.",
        description="The site's address, e.g. https://example.com. Sub-domains are included.",
        preparer=_preparer_site_url,
        validator=colander.All(colander.Length(max=300), _site_url),
    )
    timezone = colander.SchemaNode(
        colander.String(),
        title="Time zone",
        description="Days and hours in the reports follow this time zone.",
        default="UTC",
        missing_msg="Choose a time zone.",
        validator=colander.OneOf(timezones(), msg_err="Choose a time zone from the list."),
        widget=deform.widget.SelectWidget(values=[(tz, tz) for tz in timezones()]),
    )


class SiteSettingsSchema(SiteSchema):
    honor_dnt = colander.SchemaNode(
        colander.Boolean(), title="Ignore visitors who send Do Not Track", default=True, missing=False
    )
    honor_gpc = colander.SchemaNode(
        colander.Boolean(), title="Ignore visitors who send Global Privacy Control", default=True, missing=False
    )
    restrict_hosts = colander.SchemaNode(
        colander.Boolean(),
        title="Only count pages on this site's host and its sub-domains",
        default=True,
        missing=False,
    )


class _OptionalText(colander.String):
    """Text that may be left empty: the node's ``missing`` (``None``) when it is."""

    def serialize(self, node, appstruct):
        return colander.null if appstruct is None else super().serialize(node, appstruct)

    def deserialize(self, node, cstruct):
        value = super().deserialize(node, cstruct)
        return colander.null if value in (colander.null, "") else value


def umami_website_id(value: str) -> str:
    """An Umami website id (a UUID) in its canonical form; ``ValueError`` for anything else."""
    if len(value) > 36:
        raise ValueError("An Umami website id is a UUID (36 characters).")
    return str(uuid.UUID(value))


def _prepare_umami_id(value):
    """A valid id in its canonical form (what Umami's tracker sends); anything else as it is, for
    the validator to refuse."""
    if not isinstance(value, str):
        return value
    try:
        return umami_website_id(value.strip())
    except ValueError:
        return value


@colander.deferred
def _unique_umami_id(node, kw):
    request = kw["request"]

    def validator(node, value):
        try:
            canonical = umami_website_id(value)
        except ValueError:
            raise colander.Invalid(node, "An Umami website id is a UUID, e.g. 4fb7fa4c-5b46-438d-94b3-3a8fb9bc2e8b.") from None
        other = request.dbsession.scalar(select(Site.id).where(Site.umami_website_id == canonical, Site.id != request.context.site.id))
        if other is not None:
            raise colander.Invalid(node, "Another site has this Umami website id.")

    return validator


class SiteSettingsWithUmamiSchema(SiteSettingsSchema):
    umami_website_id = colander.SchemaNode(
        _OptionalText(),
        title="Umami website id",
        description="Moving from Umami? The data-website-id of its snippet: Umami's tracker, pointed at this server, then counts for this site.",
        preparer=_prepare_umami_id,
        validator=_unique_umami_id,
        missing=None,
    )


class DeleteSiteSchema(CSRFSchema):
    confirm = colander.SchemaNode(
        colander.Boolean(),
        title="Confirmation",
        label="Yes, delete this site and all its visits",
        validator=colander.Function(lambda v: v is True, "Tick the box to confirm."),
        missing=False,
    )
