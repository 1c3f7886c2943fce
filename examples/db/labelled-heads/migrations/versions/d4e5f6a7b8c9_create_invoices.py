"""create invoices

Revision ID: d4e5f6a7b8c9
Revises: 
Create Date: 2026-11-20 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = 'd4e5f6a7b8c9'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = 'billing'
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table("invoices", sa.Column("id", sa.Integer, primary_key=True), sa.Column("amount", sa.Numeric(10, 2)))


def downgrade() -> None:
    op.drop_table("invoices")
