"""Create the invenio_records_files_ext branch."""

# revision identifiers, used by Alembic.
revision = "c3f1e2a9b7d4"
down_revision = None
branch_labels = ("invenio_records_files_ext",)
depends_on = "dbdbc1b19cf2"


def upgrade():
    """Upgrade database."""


def downgrade():
    """Downgrade database."""
