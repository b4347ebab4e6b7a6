"""Who else may read or run a site: members, invitations, share links, and the site's history.

A site's owner is ``sites.owner_id`` (one by construction); the other people with access are
rows of ``site_members``, each with a role, ``admin`` or ``viewer`` (what each role may do is
:data:`tracking.security.ROLE_PERMISSIONS`). Tokens and secrets (an invitation's, a share
link's, a set-password link's) are stored only as their SHA-256: the table opens nothing.
"""

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .meta import Base
from .types import utcnow

if TYPE_CHECKING:
    from .accounts import User
    from .sites import Site

#: The roles a member row may hold; the owner is the site's ``owner_id``.
MEMBER_ROLES = ("admin", "viewer")
ROLES = ("owner", *MEMBER_ROLES)


class SiteMember(Base):
    __tablename__ = "site_members"
    __table_args__ = (
        UniqueConstraint("site_id", "user_id"),
        CheckConstraint("role IN ('admin', 'viewer')", name="role"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped["User"] = relationship()

    def __repr__(self) -> str:
        return f"<SiteMember {self.user_id} of site {self.site_id}: {self.role}>"


class Invitation(Base):
    """An e-mail address invited to a site with a role: single-use, until ``expires_at``."""

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'viewer')", name="role"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(8))
    #: Hex SHA-256 of the token in the invitation's link.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    site: Mapped["Site"] = relationship()


class ShareLink(Base):
    """A read-only link to a site's dashboard. Revoking it deletes the row."""

    __tablename__ = "share_links"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    #: Hex SHA-256 of the secret in the link's address.
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: An argon2 hash when the link asks for a password.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime | None]
    #: Whether the link shows the visit log (and its exports) too.
    include_visits: Mapped[bool] = mapped_column(default=False)
    #: Origins allowed to frame the dashboard, space-separated; empty: not embeddable.
    embed_origins: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    site: Mapped["Site"] = relationship()

    @property
    def origins(self) -> list[str]:
        return self.embed_origins.split()


class SiteEvent(Base):
    """One line of a site's history: who changed what, and when."""

    __tablename__ = "site_events"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    #: The user's name at the time (the account may be gone since).
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    what: Mapped[str] = mapped_column(String(300))


class PasswordToken(Base):
    """A one-time "set your password" link an admin issued for a user."""

    __tablename__ = "password_tokens"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
