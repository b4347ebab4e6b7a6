"""Account administration: disable, enable, make or unmake an admin, delete (its sites deleted or
transferred), and one-time "set your password" links.

Plain functions on a database session, for the users pages and ``tracking-admin`` alike.
"""

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from . import members
from .models import PasswordToken, Site, SiteMember, User, UserSession

PASSWORD_LINK_LIFETIME = timedelta(days=2)


class AccountError(ValueError):
    """An administration that cannot be done, said in one sentence."""


def overview(dbsession: Session) -> list[tuple[User, int]]:
    """Every account with the number of sites it owns, by id."""
    return list(dbsession.execute(
        select(User, func.count(Site.id)).outerjoin(Site, Site.owner_id == User.id).group_by(User.id).order_by(User.id)
    ).tuples())


def _keep_an_admin(dbsession: Session, user: User) -> None:
    """Refuse to take away the last enabled administrator (unmade, disabled or deleted)."""
    if not user.is_admin or user.is_disabled:
        return
    others = dbsession.scalar(select(func.count(User.id)).where(User.is_admin.is_(True), User.id != user.id,
                                                                  User.is_disabled.is_(False)))
    if not others:
        raise AccountError("This is the last administrator: make another one first.")


def set_disabled(dbsession: Session, user: User, disabled: bool) -> None:
    """Disable or enable an account. Disabling ends every session of the account at once and
    voids its unused "set your password" link: a link handed out earlier must not set the
    password the account has once it is enabled again."""
    if disabled:
        _keep_an_admin(dbsession, user)
        dbsession.execute(delete(UserSession).where(UserSession.user_id == user.id))
        dbsession.execute(delete(PasswordToken).where(PasswordToken.user_id == user.id))
    user.is_disabled = disabled


def set_admin(dbsession: Session, user: User, admin: bool) -> None:
    if not admin:
        _keep_an_admin(dbsession, user)
    user.is_admin = admin


def delete_user(dbsession: Session, user: User, *, transfer_to: User | None = None) -> int:
    """Delete ``user``. Their sites are deleted with them, or (``transfer_to``) given to that
    account, which becomes their owner. Returns how many sites were deleted or transferred.
    The last enabled administrator is not deleted."""
    _keep_an_admin(dbsession, user)
    sites = list(dbsession.scalars(select(Site).where(Site.owner_id == user.id)))
    if transfer_to is not None:
        if transfer_to.id == user.id:
            raise AccountError("The sites cannot go to the account being deleted.")
        for site in sites:
            dbsession.execute(delete(SiteMember).where(SiteMember.site_id == site.id, SiteMember.user_id == transfer_to.id))
            site.owner_id = transfer_to.id
            members.record(dbsession, site.id, None, f"transferred the ownership to {transfer_to.email} (account of {user.email} deleted)")
        dbsession.flush()
        dbsession.expire(user, ["sites"])
    else:
        for site in sites:  # one by one, with their hits (``models.hits``), before the account
            dbsession.delete(site)
        dbsession.flush()
    dbsession.delete(user)
    dbsession.flush()
    return len(sites)


def issue_password_link(dbsession: Session, user: User, now: datetime) -> str:
    """A one-time token to set ``user``'s password (earlier ones stop working); shown once.
    None for a disabled account (enable it first)."""
    if user.is_disabled:
        raise AccountError("This account is disabled: enable it first.")
    dbsession.execute(delete(PasswordToken).where(PasswordToken.user_id == user.id))
    token = members.new_secret()
    dbsession.add(PasswordToken(user_id=user.id, token_hash=members.secret_hash(token), created_at=now,
                                expires_at=now + PASSWORD_LINK_LIFETIME))
    return token


def find_password_token(dbsession: Session, token: str, now: datetime) -> PasswordToken | None:
    if not isinstance(token, str) or not members.SECRET_FORMAT.match(token):
        return None
    row = dbsession.scalar(select(PasswordToken).join(User, User.id == PasswordToken.user_id).where(
        PasswordToken.token_hash == members.secret_hash(token), User.is_disabled.is_(False)))
    if row is None or not members.matches(row.token_hash, token) or row.expires_at <= now:
        return None
    return row


def use_password_token(dbsession: Session, token: PasswordToken, password: str) -> User:
    """Set the password; the token is used up and every session of the account ends."""
    user = dbsession.get_one(User, token.user_id)
    user.set_password(password)
    dbsession.execute(delete(UserSession).where(UserSession.user_id == user.id))
    dbsession.delete(token)
    return user
