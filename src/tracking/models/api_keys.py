"""API keys: what a back end, a script or a dashboard of one's own presents to ``/api/v1/``.

The key itself is shown once, when it is made; the table keeps only its SHA-256 (a key is 32
random bytes, so a plain digest cannot be reversed by trying keys), its first characters to
tell keys apart on the account page, and what it may do: its scopes, optionally the sites it is
limited to, an optional expiry. The rules live in :mod:`tracking.api_keys`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .meta import Base
from .types import utcnow

if TYPE_CHECKING:
    from .accounts import User


class ApiKey(Base):
    __tablename__ = "api_keys"
    # Ids are never reused (SQLite would otherwise hand out a deleted highest id again).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    #: The key's first characters (``trk_`` and 6 more), shown to tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    #: Hex SHA-256 of the whole key.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The scopes, separated by spaces (``stats:read sites:write``).
    scopes: Mapped[str] = mapped_column(String(100))
    #: The ids of the sites the key is limited to; ``None``: every site its user may use.
    site_ids: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    #: To within :data:`tracking.api_keys.TOUCH_EVERY`.
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    def __repr__(self) -> str:
        return f"<ApiKey {self.id} {self.prefix}… of user {self.user_id}>"
