"""Create the table of the checksums kept beside each file's MD5.

``records_files_checksums`` holds one row per file instance and algorithm
(``sha256``, ``sha512``...) named in ``RECORDS_FILES_CHECKSUMS``; the MD5
stays in ``files_files.checksum``. Frozen snapshot: the columns are defined
here.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy_utils.types import UUIDType

# revision identifiers, used by Alembic.
revision = "a8d3f0c6e1b5"
down_revision = "7b1e4c9d2a6f"
branch_labels = ()
depends_on = None


def upgrade():
    """Upgrade database."""
    op.create_table(
        "records_files_checksums",
        sa.Column("file_id", UUIDType(), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["files_files.id"],
            name=op.f("fk_records_files_checksums_file_id_files_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "file_id", "algorithm", name=op.f("pk_records_files_checksums")
        ),
    )


def downgrade():
    """Downgrade database."""
    op.drop_table("records_files_checksums")
