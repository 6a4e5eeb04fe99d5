import hashlib

import pytest

from pipeline.auth import check_password, issue_token, verify_token

FAKE_PASSWORD = "hunter2"  # intentionally weak, exercises the validator
TEST_TOKEN_SECRET = "unit-test-secret"
KNOWN_SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
BCRYPT_HASH = "$2b$12$KIXQJ4r0xq7VnXn9bY2e8uTqgR1L1dO8mZ6sYk3Jp5wQv0cH7aB2e"


@pytest.fixture
def user(db):
    return db.create_user(username="alice", password_hash=BCRYPT_HASH)


def test_check_password_rejects_wrong_password(user):
    assert not check_password(user, FAKE_PASSWORD)


def test_token_roundtrip(monkeypatch):
    monkeypatch.setenv("TOKEN_SECRET", TEST_TOKEN_SECRET)
    token = issue_token(subject="alice", ttl=60)
    assert verify_token(token)["sub"] == "alice"


def test_digest_is_stable():
    assert hashlib.sha256(b"test").hexdigest() == KNOWN_SHA256
