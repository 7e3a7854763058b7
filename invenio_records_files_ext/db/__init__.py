"""The database floor (above the settings only): the transaction ledger, atomic steps, locks, versions, file keys and SQL helpers.

* ``continuum``: SQLAlchemy-Continuum's version session, joined to the
  transaction it finds;
* ``cursors``: Opaque listing cursors: a list of JSON values as a URL-safe
  string;
* ``keys``: The one place where file keys are checked and normalised;
* ``ledger``: The transaction ledger: what a database transaction owes
  storage;
* ``locks``: Locks that keep concurrent writers of one bucket's files apart;
* ``references``: Who uses a file instance: the one place that answers it;
* ``sql``: Small SQL helpers shared by the modules that query in bulk;
* ``sqlite``: SQLite that honours savepoints and lets concurrent writers
  wait their turn;
* ``steps``: Atomic steps: every change to a record's files is all or
  nothing;
* ``versions``: Object versions: the head query, and new versions in few
  statements.
"""
