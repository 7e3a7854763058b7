"""Tables of invenio-records-files (legacy revision, no operation).

Databases migrated with invenio-records-files record this revision in
their Alembic history. It is shipped here, empty, so that history stays
resolvable after switching to invenio-records-files-ext; the table itself
is created by this package's own branch (revision 5e8a91d2c0f7) when
missing. Do not install both packages in an application using Alembic.
"""

# revision identifiers, used by Alembic.
revision = "1ba76da94103"
down_revision = "2da9a03b0833"
branch_labels = ()
depends_on = (
    "2e97565eba72",  # invenio-files-rest: files_bucket
    "862037093962",  # invenio-records: records_metadata
)


def upgrade():
    """Upgrade database."""


def downgrade():
    """Downgrade database."""
