"""Where the SQL of ``state.db`` lives: one module per table or group of tables, each offering
named reads (over the reader connection, ``StateDB.reader``, or a connection of an offline
command) and named statements (for the state writer, ``StateDB.submit``).

They sit beside the schema (``lems.state.db``) and below the state services, so the state
package carries its database whole: a change of storage (a column, an index, another database
engine) is a change here and in ``lems.state.db``, and the state stays independent of the
federation and training (``pyproject.toml``, ``[tool.importlinter]``). The switch database's
repositories are ``lems.repositories``; ``tests/test_sql_placement.py`` fails when SQL appears
anywhere else.
"""
