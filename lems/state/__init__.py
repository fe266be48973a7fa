"""The Oregon side of the switch: CCH, FICS, the Prohibited Persons File, hit-confirmation
tracking, scheduled jobs and the audit report (RULES.md R2, R5-R9, D1-D3, OAR 257-010-0055/-0060).

The state services keep their own SQLite file, ``state.db`` beside the lab database, as a separate
system would; ``lems.state.install:install`` registers them with a switch.
"""
