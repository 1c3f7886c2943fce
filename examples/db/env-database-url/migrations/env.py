"""Alembic environment that reads its URL from the DATABASE_URL environment variable
(as many twelve-factor apps do); alembic.ini has no sqlalchemy.url.
Run it with: headcheck db examples/db/env-database-url --url-env DATABASE_URL"""
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

try:
    url = os.environ["DATABASE_URL"]
except KeyError:
    raise SystemExit("env.py: set DATABASE_URL") from None


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
