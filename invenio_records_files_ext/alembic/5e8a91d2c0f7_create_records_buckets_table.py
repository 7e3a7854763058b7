"""Create the records_buckets table unless invenio-records-files made it.

Databases migrated by invenio-records-files already have the table (same
name, columns and index); for them this revision changes nothing.
"""

import sqlalchemy as sa
import sqlalchemy_utils
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e8a91d2c0f7"
down_revision = "c3f1e2a9b7d4"
branch_labels = ()
depends_on = (
    "2e97565eba72",  # invenio-files-rest: files_bucket
    "862037093962",  # invenio-records: records_metadata
)


def _has_table(name):
    return sa.inspect(op.get_bind()).has_table(name)


def upgrade():
    """Upgrade database."""
    if _has_table("records_buckets"):
        return
    op.create_table(
        "records_buckets",
        sa.Column("record_id", sqlalchemy_utils.types.uuid.UUIDType(), nullable=False),
        sa.Column("bucket_id", sqlalchemy_utils.types.uuid.UUIDType(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bucket_id"],
            ["files_bucket.id"],
            name=op.f("fk_records_buckets_bucket_id_files_bucket"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records_metadata.id"],
            name=op.f("fk_records_buckets_record_id_records_metadata"),
        ),
        sa.PrimaryKeyConstraint(
            "record_id", "bucket_id", name=op.f("pk_records_buckets")
        ),
    )
    op.create_index(
        op.f("ix_records_buckets_bucket_id"),
        "records_buckets",
        ["bucket_id"],
        unique=False,
    )


def downgrade():
    """Downgrade database."""
    op.drop_index(op.f("ix_records_buckets_bucket_id"), table_name="records_buckets")
    op.drop_table("records_buckets")
