"""Create the table of pending files' transfers.

``records_files_transfer`` keeps, for each file announced but not completed
yet, how its bytes come (local upload, fetch, multipart), what the client
announced, the bytes received so far and what went wrong. Frozen snapshot:
the columns are defined here.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy_utils.types import JSONType, UUIDType

# revision identifiers, used by Alembic.
revision = "7b1e4c9d2a6f"
down_revision = "e4b7d2a19c03"
branch_labels = ()
depends_on = None


def _json_type():
    return (
        sa.JSON()
        .with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
        .with_variant(JSONType(), "sqlite")
        .with_variant(JSONType(), "mysql")
    )


def upgrade():
    """Upgrade database."""
    op.create_table(
        "records_files_transfer",
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entry_id", UUIDType(), nullable=False),
        sa.Column("type", sa.String(length=1), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("file_id", UUIDType(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("checksum", sa.String(length=255), nullable=True),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("json", _json_type(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["records_files_entry.id"],
            name=op.f("fk_records_files_transfer_entry_id_records_files_entry"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["files_files.id"],
            name=op.f("fk_records_files_transfer_file_id_files_files"),
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_records_files_transfer")),
    )
    op.create_index(
        op.f("ix_records_files_transfer_file_id"),
        "records_files_transfer",
        ["file_id"],
        unique=False,
    )
    op.create_index(
        "ix_records_files_transfer_updated",
        "records_files_transfer",
        ["updated"],
        unique=False,
    )


def downgrade():
    """Downgrade database."""
    op.drop_index("ix_records_files_transfer_updated", "records_files_transfer")
    op.drop_index(op.f("ix_records_files_transfer_file_id"), "records_files_transfer")
    op.drop_table("records_files_transfer")
