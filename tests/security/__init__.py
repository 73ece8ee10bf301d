"""Issue 10: each test performs an attack on the running system and asserts it fails. Read together,
these files are our security promise."""
