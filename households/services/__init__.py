"""Writes for the households app, one module per topic: households.py (households and members),
ratings.py (credit ratings), blacklist.py (the blacklist and its two-person removal). Every
function takes the acting user, checks role and scope, runs in one transaction and leaves an
audit record. Every rule failure is an `ApplicationError` (see households/exceptions.py for how
it names the field)."""
