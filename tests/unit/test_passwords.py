from tracking.models import User
from tracking.models.accounts import password_context


def test_new_passwords_are_hashed_with_argon2():
    user = User()
    user.set_password("a secret passphrase")
    assert user.password_hash.startswith("$argon2id$")
    assert "a secret passphrase" not in user.password_hash
    assert user.check_password("a secret passphrase")
    assert not user.check_password("a secret passphrasE")


def test_outdated_hash_is_replaced_on_successful_check():
    user = User(password_hash=password_context.handler("pbkdf2_sha256").hash("a secret passphrase"))
    assert not user.check_password("wrong")
    assert user.password_hash.startswith("$pbkdf2-sha256$")
    assert user.check_password("a secret passphrase")
    assert user.password_hash.startswith("$argon2id$")
    assert user.check_password("a secret passphrase")
