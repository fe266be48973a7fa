"""Emulated terminals: they reach the switch over hardware links, exactly like real terminals,
and know it only by its address."""
