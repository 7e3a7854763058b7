"""Index Invenio-Files-REST's object versions by bucket and key.

Invenio-Files-REST indexes ``files_object`` by bucket, and by bucket,
version and key: finding the current version of one key read every
version of the bucket, so each upload got slower as the bucket grew.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "e4b7d2a19c03"
down_revision = "dc5e25f9187c"
branch_labels = ()
depends_on = None

INDEX = "ix_records_files_object_bucket_key"


def upgrade():
    """Upgrade database."""
    op.create_index(INDEX, "files_object", ["bucket_id", "key"], if_not_exists=True)


def downgrade():
    """Downgrade database."""
    op.drop_index(INDEX, table_name="files_object", if_exists=True)
