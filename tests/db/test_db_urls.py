"""headcheck.db.urls: one redaction for every URL headcheck prints (issue 9.8)."""

from __future__ import annotations

import pytest

from headcheck.db.urls import is_postgres, redact, split_password
from headcheck.dialects import names_another_database, with_driver


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("postgresql://app:s3cret@db.example/prod", "s3cret"),
        ("postgresql+psycopg://app:p@ss@w0rd@db.example:5432/prod", "ss@w0rd"),  # raw "@" in the password
        ("postgresql://:only-password@host/db", "only-password"),
        ("postgresql://app@host/db?password=in-query&sslmode=require", "in-query"),
        ("host=db port=5432 user=app password=conninfo-secret dbname=prod", "conninfo-secret"),
        ("host=db password='quoted secret' dbname=prod", "quoted secret"),
    ],
)
def test_no_part_of_the_password_survives(url: str, secret: str) -> None:
    shown = redact(url)
    assert "***" in shown
    for piece in (secret, *secret.split("@")):
        assert piece not in shown, shown


def test_redaction_keeps_what_says_where() -> None:
    assert (
        redact("postgresql+psycopg://app:p@ss@db.example:5432/prod")
        == "postgresql+psycopg://app:***@db.example:5432/prod"
    )
    assert (
        redact("cannot connect to postgresql://u:x@h/d: refused") == "cannot connect to postgresql://u:***@h/d: refused"
    )
    assert redact("postgresql://app@host/db") == "postgresql://app@host/db"


def test_the_password_leaves_the_command_line() -> None:
    assert split_password("postgresql://app:p%40ss@w@host:1/db") == ("postgresql://app@host:1/db", "p@ss@w")
    assert split_password("postgresql://app@host/db") == ("postgresql://app@host/db", None)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:s3cret@db.example/prod",
        "postgresql+psycopg://app:p@ss@w0rd@db.example:5432/prod",
        "postgresql://:only-password@host/db",
        "postgresql://app:p%40ss@host:1/db?sslmode=require",
        "postgresql://app:pw@host/db?application_name=a@b",
    ],
)
def test_the_password_split_off_is_exactly_what_redact_hides(url: str) -> None:
    public, password = split_password(url)
    assert password is not None
    assert password not in public
    assert redact(url) == public.replace("@", ":***@", 1)


def test_the_driver_is_replaced_not_the_rest() -> None:
    assert with_driver("postgresql://u:p@h:1/d", "asyncpg") == "postgresql+asyncpg://u:p@h:1/d"
    assert with_driver("mysql://h/d", "pymysql") == "mysql+pymysql://h/d"
    assert with_driver("not a url", "x") == "not a url"


def test_which_database_a_url_names() -> None:
    assert is_postgres("postgresql+psycopg://h/d")
    assert is_postgres("postgres://h/d")
    assert not is_postgres("mysql+pymysql://h/d")
    assert names_another_database("mysql+pymysql://u:p@h/d")
    assert names_another_database("sqlite:///app.db")
    assert not names_another_database("postgresql://h/d")
    assert not names_another_database("%(DATABASE_URL)s")  # unknown: not another database
    assert not names_another_database(None)
