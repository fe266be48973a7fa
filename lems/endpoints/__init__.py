"""Mock national endpoints (NCIC with III, Nlets, NICS): real services on real links, with their
own databases, faults, and the switch-side clients that reach them (see ``install``)."""
