"""The Flask extension."""

from . import transaction  # noqa: F401 - registers the session listeners
from . import config


class InvenioRecordsFiles:
    """Invenio-Records-Files extension: sets configuration defaults."""

    def __init__(self, app=None):
        """Initialise the extension, now if ``app`` is given."""
        if app:
            self.init_app(app)

    def init_app(self, app):
        """Set configuration defaults and register the extension."""
        self.init_config(app)
        app.extensions["invenio-records-files"] = self

    @staticmethod
    def init_config(app):
        """Set every ``RECORDS_FILES_*`` default that the app did not set."""
        for name in dir(config):
            if name.startswith("RECORDS_FILES_"):
                app.config.setdefault(name, getattr(config, name))
