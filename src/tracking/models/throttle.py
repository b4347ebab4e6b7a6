"""Password attempts (and account creations), counted per key and shared by every server process.

A key is an opaque keyed hash (see :mod:`tracking.throttle`): the table holds neither e-mail
addresses nor IP addresses. The rules live in :mod:`tracking.throttle`; this is only the row.
"""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base


class LoginThrottle(Base):
    __tablename__ = "login_throttle"

    #: ``account:<hash>``, ``client:<hash>`` or ``signup:<hash>``.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Failed attempts since ``window_start`` (for a ``signup:`` key: accounts created).
    failures: Mapped[int]
    #: The first failure counted: before the back-off starts, the count lapses a window after it.
    window_start: Mapped[datetime]
    #: The earliest next attempt (the last failure plus its back-off); the row lapses a window
    #: after it, and expired rows are deleted by this index.
    retry_at: Mapped[datetime] = mapped_column(index=True)

    def __repr__(self) -> str:
        return f"<LoginThrottle {self.key} {self.failures}>"
