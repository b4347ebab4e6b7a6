"""Accounts: the people who own sites."""

from datetime import datetime
from typing import TYPE_CHECKING

from passlib.context import CryptContext
from sqlalchemy import String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .meta import Base
from .types import utcnow

if TYPE_CHECKING:
    from .sites import Site

#: Argon2 for every new hash; older schemes are still verified and upgraded on the next login.
password_context = CryptContext(schemes=["argon2", "pbkdf2_sha256"], deprecated=["pbkdf2_sha256"])


def normalize_email(email: str) -> str:
    """E-mail addresses are stored and compared lower-cased and stripped."""
    return email.strip().lower()


class User(Base):
    __tablename__ = "users"
    # Ids are never reused: SQLite would otherwise give the next account the id of a deleted
    # highest one (PostgreSQL's sequences never go back).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: A disabled account cannot log in, and its sessions were ended when it was disabled.
    is_disabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    last_login_at: Mapped[datetime | None]

    sites: Mapped[list["Site"]] = relationship(
        back_populates="owner",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Site.name",
    )

    def set_password(self, password: str) -> None:
        self.password_hash = password_context.hash(password)

    def check_password(self, password: str) -> bool:
        """Verify ``password``; an outdated hash is replaced by a current one."""
        ok, new_hash = password_context.verify_and_update(password, self.password_hash)
        if ok and new_hash:
            self.password_hash = new_hash
        return ok

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


def dummy_verify() -> None:
    """Spend the time of one hash check, so an unknown e-mail answers as slowly as a known one."""
    password_context.dummy_verify()
