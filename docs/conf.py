"""Sphinx configuration of invenio-records-files-ext.

The build works offline: no intersphinx inventories are fetched. References
to other Invenio packages (and to Flask, SQLAlchemy, ...) that appear in the
package's docstrings cannot be resolved without them, so they are listed in
``nitpick_ignore_regex`` instead of failing a nitpicky build.
"""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

from invenio_records_files_ext import __version__

# -- Project -----------------------------------------------------------------

project = "invenio-records-files-ext"
copyright = "invenio-records-files-ext authors"
author = "invenio-records-files-ext authors"
version = __version__
release = __version__

# -- General -----------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
]

master_doc = "index"
source_suffix = {".rst": "restructuredtext"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path = []
language = "en"
pygments_style = "sphinx"

# The ``>>>`` examples are run by pytest (``--doctest-glob='*.rst'``); the
# doctest builder would run them too. Hide ``# doctest:`` flags in the HTML.
trim_doctest_flags = True

# -- Autodoc -----------------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
}
autoclass_content = "both"

# -- Nitpicky mode -----------------------------------------------------------

# Objects documented by other projects. Without network access there are no
# intersphinx inventories to resolve them against.
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(invenio_[a-z_]+|flask|werkzeug|sqlalchemy|sqlalchemy_utils|sqlalchemy_continuum"
        r"|marshmallow|marshmallow_utils|marshmallow_oneofschema|blinker|jsonschema|click|uuid"
        r"|collections\.abc|concurrent\.futures|typing|datetime|http\.client"
        r"|ipaddress|socket|ssl|celery)"
        r"(\..*)?",
    ),
    (
        r"py:.*",
        r"(Bucket|ObjectVersion|FileInstance|Location|MultipartObject"
        r"|Part|RecordMetadata|Flask|Blueprint|Session|SessionTransaction"
        r"|Select|Map|t\.Any)",
    ),
    # Generic aliases in type hints (``dict[str, Any]``...).
    (r"py:class", r"(dict|list|tuple|set)\[.*"),
]

# -- HTML --------------------------------------------------------------------

html_theme = "alabaster"
html_theme_options = {
    "description": "Records bound to file buckets for Invenio",
    "fixed_sidebar": True,
}
html_static_path = []
htmlhelp_basename = "invenio-records-files-ext-doc"
