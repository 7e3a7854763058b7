"""Mark the buckets linked to records as this package's.

``flask records-files gc`` only collects buckets carrying the owner tag
(``files_buckettags``), so that buckets of other modules, which have no
``records_buckets`` row either, are never taken for garbage. The package
tags every bucket it links from now on; this revision tags the buckets
already linked. Frozen snapshot: the tables are defined here.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy_utils.types import UUIDType

# revision identifiers, used by Alembic.
revision = "dc5e25f9187c"
down_revision = "cdbfc3f74981"
branch_labels = ()
depends_on = None

OWNER_TAG = "invenio-records-files-ext:owner"
OWNER_VALUE = "records"

_metadata = sa.MetaData()
links = sa.Table(
    "records_buckets",
    _metadata,
    sa.Column("record_id", UUIDType(), primary_key=True),
    sa.Column("bucket_id", UUIDType(), primary_key=True),
)
tags = sa.Table(
    "files_buckettags",
    _metadata,
    sa.Column("bucket_id", UUIDType(), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text()),
)


def upgrade():
    """Upgrade database."""
    tagged = sa.select(tags.c.bucket_id).where(
        tags.c.bucket_id == links.c.bucket_id, tags.c.key == OWNER_TAG
    )
    untagged = (
        sa.select(
            links.c.bucket_id,
            sa.literal(OWNER_TAG, sa.String(255)),
            sa.literal(OWNER_VALUE, sa.Text()),
        )
        .where(~tagged.exists())
        .distinct()
    )
    op.get_bind().execute(
        tags.insert().from_select(["bucket_id", "key", "value"], untagged)
    )


def downgrade():
    """Downgrade database."""
    op.get_bind().execute(tags.delete().where(tags.c.key == OWNER_TAG))
