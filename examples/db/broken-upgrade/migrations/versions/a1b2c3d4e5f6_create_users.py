"""create users

Revision ID: a1b2c3d4e5f6
Revises: 
Create Date: 2026-11-20 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = 'a1b2c3d4e5f6'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(200), nullable=False, unique=True),
        sa.Column("status", sa.Enum("active", "blocked", name="user_status"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("users")
    sa.Enum(name="user_status").drop(op.get_bind())
