"""Who may read a record's files, and what readers see.

* ``decisions``: One decision for a record's files, whatever the route;
* ``embargo``: Restricted and embargoed files: setting the record's access,
  lifting embargoes;
* ``ownership``: Which buckets belong to records: the owner tag;
* ``permissions``: Permission factories for a record's files;
* ``restrictions``: What a record's JSON says about access to its files:
  public, restricted, embargoed;
* ``visibility``: What readers who may not read a record's restricted files
  see of them.
"""
