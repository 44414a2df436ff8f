"""Shared domain vocabulary: errors, paging and time, used by every domain package."""
