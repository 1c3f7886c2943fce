"""add users.phone

Revision ID: 4d5e6f708192
Revises: 2b3c4d5e6f70
Create Date: 2026-11-04 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '4d5e6f708192'
down_revision: Union[str, Sequence[str], None] = '2b3c4d5e6f70'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('users', sa.Column('phone', sa.String(30)))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column('users', 'phone')
