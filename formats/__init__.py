"""Pure codecs for switch traffic: grammar, field dictionary, code tables, responses, framing.

Nothing in this package does I/O: links hand it bytes and text, it hands back values.
"""
