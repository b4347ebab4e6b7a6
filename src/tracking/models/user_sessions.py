"""Signed-in sessions: one row per browser that logged in, until it logs out or expires.

The browser's cookie carries a random token; the table keeps only its SHA-256 digest, so a copy
of the table (a backup, say) opens no account. The rules (lifetimes, the device label, who may
end what) live in :mod:`tracking.user_sessions`; this is only the row.
"""

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .meta import Base

if TYPE_CHECKING:
    from .accounts import User


class UserSession(Base):
    __tablename__ = "user_sessions"
    # Ids are never reused (SQLite would otherwise hand out a deleted highest id again).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Hex SHA-256 of the cookie's token.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    #: When the session was last used, to within :data:`tracking.user_sessions.TOUCH_EVERY`.
    last_seen_at: Mapped[datetime]
    #: The earlier of the idle deadline (last seen + idle timeout) and the absolute one (created +
    #: lifetime): the session is refused from then on, and deleted at a later log-in.
    expires_at: Mapped[datetime] = mapped_column(index=True)
    #: A short summary of the browser and system ("Firefox 128 on Linux"), never the raw user agent.
    device: Mapped[str] = mapped_column(String(64))

    user: Mapped["User"] = relationship()

    def __repr__(self) -> str:
        return f"<UserSession {self.id} of user {self.user_id}>"
