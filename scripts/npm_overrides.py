"""A pytest plugin for scripts/previewer_comparison.sh: npm ``overrides``.

Invenio-Previewer's ``webassets`` fixture writes the site's ``package.json``
(pywebpack) and runs ``npm install``. When the npm registry at hand lacks
a version some dependency asks for, the install fails and every test
rendering a preview errors, on both sides alike. This plugin adds npm's
``overrides`` to the written ``package.json``: ``NPM_OVERRIDES``, a JSON
object (default: ``{"warcio": "2.4.11"}``, the newest warcio the registry
here has, where a dependency asks for ``^2.4.12``).
"""

import json
import os

from pywebpack.project import WebpackBundleProject

DEFAULT = {"warcio": "2.4.11"}

_create = WebpackBundleProject.create


def _create_with_overrides(self, *args, **kwargs):
    result = _create(self, *args, **kwargs)
    overrides = json.loads(os.environ.get("NPM_OVERRIDES") or json.dumps(DEFAULT))
    path = self.npmpkg.package_json_path
    with open(path) as fp:
        package = json.load(fp)
    package.setdefault("overrides", {}).update(overrides)
    with open(path, "w") as fp:
        json.dump(package, fp, indent=2, sort_keys=True)
    return result


WebpackBundleProject.create = _create_with_overrides
