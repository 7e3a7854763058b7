"""Index Invenio-Files-REST's tables for the fixity audit.

A claim of the audit takes the file instances read back the longest ago
(``coalesce(last_check_at, created), id``) that a record's bucket holds
(``files_object.file_id``). Without these indexes each claim read both
tables whole. The second index (an expression) is made on PostgreSQL only.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f2b6c8e4d0a7"
down_revision = "a8d3f0c6e1b5"
branch_labels = ()
depends_on = None

LINK_INDEX = "ix_records_files_object_file_id"
DUE_INDEX = "ix_records_files_files_last_seen"


def upgrade():
    """Upgrade database."""
    op.create_index(LINK_INDEX, "files_object", ["file_id"], if_not_exists=True)
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index(
        DUE_INDEX,
        "files_files",
        [sa.text("coalesce(last_check_at, created)"), "id"],
        if_not_exists=True,
    )


def downgrade():
    """Downgrade database."""
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index(DUE_INDEX, table_name="files_files", if_exists=True)
    op.drop_index(LINK_INDEX, table_name="files_object", if_exists=True)
