"""The settings: every ``RECORDS_FILES_*`` key read once, as one typed tree.

The defaults are written in one place, :mod:`invenio_records_files_ext.config`;
this room reads an application's configuration into frozen dataclasses,
taking a key the configuration lacks from that module. It imports nothing
of the package but ``config`` and ``errors``: every other room may read
it, and it reads none of them.

* ``reading``: one key at a time, from the configuration or the defaults,
  converted to the type the tree holds;
* ``keys``: :class:`~.keys.KeyPolicy`, the rules file keys are checked by;
* ``fetch``: :class:`~.fetch.FetchLimits`, what a fetch transfer may do;
* ``archives``: the zip reader's :class:`~.archives.Limits`, browsing inside
  zip files, and the archives and bags of a record's files;
* ``groups``: the other concerns: access, embargoes, buckets, storage,
  transfers, dumps, listing, REST routes, the command line, processors,
  the fixity audit;
* ``tree``: :class:`~.tree.Settings`, the whole tree, and
  :meth:`~.tree.Settings.from_config`;
* ``current``: the settings of an application (:func:`~.current.settings_for`,
  cached until a key changes), of the current one
  (:func:`~.current.current`), and the defaults
  (:func:`~.current.defaults`).

Reading a value::

    from invenio_records_files_ext.settings.current import current

    current().fetch.max_size
"""
