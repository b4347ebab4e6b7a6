"""Sharing a site: members and their roles, invitations, share links, and the site's history.

Plain functions on a database session; the views and ``tracking-admin`` call them, and they know
nothing of either. Every token or secret handed out (:func:`new_secret`) is 32 random bytes,
shown once, and stored only as its SHA-256 (:func:`secret_hash`); a row is found by that hash,
and the stored hash is compared with :func:`hmac.compare_digest` as well.

History: each change to a site's members, invitations, share links, settings or ownership, and
to its goals, funnels and experiments, adds a line to ``site_events`` (:func:`record`); the newest
:data:`HISTORY_KEPT` are kept.
"""

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .models import Invitation, ShareLink, Site, SiteEvent, SiteMember, User
from .models.accounts import password_context

INVITATION_LIFETIME = timedelta(days=7)
HISTORY_KEPT = 100
SECRET_BYTES = 32
#: What ``secrets.token_urlsafe(SECRET_BYTES)`` makes: 43 URL-safe characters. Anything else in a
#: path is refused before it is hashed or looked up.
SECRET_FORMAT = re.compile(r"[A-Za-z0-9_-]{43}\Z")


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(stored: str, secret: str) -> bool:
    return hmac.compare_digest(stored, secret_hash(secret))


def record(dbsession: Session, site_id: int, actor: User | None, what: str) -> None:
    """A line of the site's history; the oldest beyond :data:`HISTORY_KEPT` go. The actor is
    named by their address first (unique), then their name, which anyone may choose: a member
    named like the owner is still told apart."""
    name = f"{actor.email} ({actor.name})" if actor else "tracking-admin"
    dbsession.add(SiteEvent(site_id=site_id, actor=name[:100], what=what[:300]))
    dbsession.flush()
    keep = select(SiteEvent.id).where(SiteEvent.site_id == site_id).order_by(SiteEvent.id.desc()).limit(HISTORY_KEPT)
    dbsession.execute(delete(SiteEvent).where(SiteEvent.site_id == site_id, SiteEvent.id.not_in(keep)))


def history(dbsession: Session, site_id: int, limit: int = 20) -> list[SiteEvent]:
    return list(dbsession.scalars(
        select(SiteEvent).where(SiteEvent.site_id == site_id).order_by(SiteEvent.id.desc()).limit(limit)
    ))


def role_of(site: Site, user_id: int) -> str | None:
    if site.owner_id == user_id:
        return "owner"
    return next((member.role for member in site.members if member.user_id == user_id), None)


def sites_of(dbsession: Session, user_id: int) -> list[tuple[Site, str]]:
    """Every site ``user_id`` can see, with their role there, by name."""
    owned = [(site, "owner") for site in dbsession.scalars(select(Site).where(Site.owner_id == user_id))]
    shared = list(dbsession.execute(
        select(Site, SiteMember.role).join(SiteMember, SiteMember.site_id == Site.id).where(SiteMember.user_id == user_id)
    ).tuples())
    return sorted(owned + shared, key=lambda pair: (pair[0].name, pair[0].id))


# Invitations


def invite(dbsession: Session, site: Site, email: str, role: str, by: User | None, now: datetime) -> str:
    """Invite ``email`` to ``site`` as ``role``; returns the token for the link (shown once)."""
    token = new_secret()
    dbsession.add(Invitation(site_id=site.id, email=email, role=role, token_hash=secret_hash(token),
                             invited_by_id=by.id if by else None, created_at=now, expires_at=now + INVITATION_LIFETIME))
    record(dbsession, site.id, by, f"invited {email} as {role}")
    return token


def find_invitation(dbsession: Session, token: str, now: datetime) -> Invitation | None:
    """The pending invitation of ``token``, or ``None`` (malformed, unknown, used, revoked or expired)."""
    if not isinstance(token, str) or not SECRET_FORMAT.match(token):
        return None
    row = dbsession.scalar(select(Invitation).where(Invitation.token_hash == secret_hash(token)))
    if row is None or not matches(row.token_hash, token) or row.expires_at <= now:
        return None
    return row


def pending_invitations(dbsession: Session, site_id: int, now: datetime) -> list[Invitation]:
    return list(dbsession.scalars(
        select(Invitation).where(Invitation.site_id == site_id, Invitation.expires_at > now).order_by(Invitation.id)
    ))


def accept(dbsession: Session, invitation: Invitation, user: User) -> str:
    """``user`` (signed in with the invited address) joins the site; the invitation is used up.
    Returns the role they hold now (an owner stays owner; an existing member takes the new role)."""
    site = invitation.site
    role = role_of(site, user.id)
    if role != "owner":
        member = next((m for m in site.members if m.user_id == user.id), None)
        if member is None:
            site.members.append(SiteMember(user_id=user.id, role=invitation.role))
        else:
            member.role = invitation.role
        role = invitation.role
    record(dbsession, site.id, user, f"accepted the invitation as {role}")
    dbsession.delete(invitation)
    return role


def revoke_invitation(dbsession: Session, invitation: Invitation, by: User | None) -> None:
    record(dbsession, invitation.site_id, by, f"revoked the invitation of {invitation.email}")
    dbsession.delete(invitation)


# Members


def set_role(dbsession: Session, site: Site, member: SiteMember, role: str, by: User | None) -> None:
    """Give ``member`` another role, or remove them (``role`` is ``"remove"``): either takes effect on
    their next request (the site's ACL is read from these rows on every request)."""
    name = member.user.email
    if role == "remove":
        site.members.remove(member)
        record(dbsession, site.id, by, f"removed {name}")
    elif role != member.role:
        member.role = role
        record(dbsession, site.id, by, f"made {name} {role}")


def transfer(dbsession: Session, site: Site, member: SiteMember, by: User | None) -> None:
    """``member`` becomes the owner; the previous owner stays, as an admin."""
    previous, new_owner = site.owner_id, member.user
    site.members.remove(member)
    dbsession.flush()
    site.owner_id = new_owner.id
    site.members.append(SiteMember(user_id=previous, role="admin"))
    record(dbsession, site.id, by, f"transferred the ownership to {new_owner.email}")


# Share links


def create_link(dbsession: Session, site: Site, *, label: str, password: str | None, expires_at: datetime | None,
                include_visits: bool, origins: list[str], by: User | None) -> str:
    """A new share link of ``site``; returns its secret (shown once, for the address)."""
    secret = new_secret()
    dbsession.add(ShareLink(
        site_id=site.id, label=label, secret_hash=secret_hash(secret),
        password_hash=password_context.hash(password) if password else None, expires_at=expires_at,
        include_visits=include_visits, embed_origins=" ".join(origins),
    ))
    record(dbsession, site.id, by, f"created the share link “{label}”")
    return secret


def find_link(dbsession: Session, secret: str, now: datetime) -> ShareLink | None:
    """The live share link of ``secret``, or ``None`` (malformed, unknown, revoked or expired)."""
    if not isinstance(secret, str) or not SECRET_FORMAT.match(secret):
        return None
    row = dbsession.scalar(select(ShareLink).where(ShareLink.secret_hash == secret_hash(secret)))
    if row is None or not matches(row.secret_hash, secret) or (row.expires_at is not None and row.expires_at <= now):
        return None
    return row


def links_of(dbsession: Session, site_id: int) -> list[ShareLink]:
    return list(dbsession.scalars(select(ShareLink).where(ShareLink.site_id == site_id).order_by(ShareLink.id)))


def check_link_password(link: ShareLink, password: str) -> bool:
    return link.password_hash is not None and password_context.verify(password, link.password_hash)


def revoke_link(dbsession: Session, link: ShareLink, by: User | None) -> None:
    record(dbsession, link.site_id, by, f"revoked the share link “{link.label}”")
    dbsession.delete(link)
