"""Binaries: files kept outside the relational tables, described by a managed object (`c8y_IsBinary`) or
attached to an event. The bytes stream through a `BinaryStore`; they never sit in memory whole."""
