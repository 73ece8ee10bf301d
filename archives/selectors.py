"""Reads for the archives pages and APIs: scoped households and their documents."""

from households.selectors import household_get_scoped  # noqa: F401  (re-exported for views)
