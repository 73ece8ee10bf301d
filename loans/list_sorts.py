"""The sortable columns of the loan lists (core/sorting.py): the keys a list's `?sort=` accepts and
the fields each orders by. The selectors apply them (loans/selectors.py); the pages read the
user's choice with `.read(request.GET)`."""

from core.sorting import SortableColumns

# The application list's sortable columns (core/sorting.py); newest first by default.
APPLICATION_SORTS = SortableColumns(
    {
        "no": ("id",),
        "borrower": ("borrower__name",),
        "village": ("household__village__parent__code", "household__village__code"),
        "amount": ("amount",),
        "approved_amount": ("approved_amount",),
        "state": ("state",),
        "created": ("created_at",),
    },
    default="-created",
)

# The loan book's sortable columns (core/sorting.py); the latest disbursed first by default.
LOAN_SORTS = SortableColumns(
    {
        "contract": ("contract_no",),
        "borrower": ("borrower__name",),
        "village": ("household__village__parent__code", "household__village__code"),
        "amount": ("amount",),
        "outstanding": ("outstanding",),
        "rate": ("rate",),
        "disbursed": ("disbursed_on",),
        "maturity": ("maturity_on",),
        "dpd": ("days_past_due",),
    },
    default="-disbursed",
)
# The overdue list's: the longest overdue first by default.
OVERDUE_SORTS = SortableColumns(
    {
        "contract": ("contract_no",),
        "borrower": ("borrower__name",),
        "village": ("household__village__parent__code", "household__village__code"),
        "outstanding": ("outstanding",),
        "maturity": ("maturity_on",),
        "dpd": ("days_past_due",),
    },
    default="-dpd",
)
