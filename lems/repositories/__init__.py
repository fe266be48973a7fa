"""Where the SQL of the switch's own database lives: one module per table or group of tables,
each offering named statements (for the writer) and named reads (for a connection).

The rest of ``lems`` calls these names instead of writing SQL, so that a storage change (a
column, an index, another database engine) is a change here. ``lems.store`` (schema and the
group-commit writer), ``lems.journal`` and ``lems.mailbox`` are repositories of the same kind;
``tests/test_sql_placement.py`` fails when SQL appears anywhere else (apart from the modules it
lists as not moved yet).
"""
