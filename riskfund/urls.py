from django.urls import path

from .views import claims, funds, recoveries

app_name = "riskfund"

urlpatterns = [
    # Funds, their ledgers and statements
    path("funds/", funds.fund_list, name="fund_list"),
    path("funds/new/", funds.fund_create, name="fund_create"),
    path("funds/<int:pk>/", funds.fund_detail, name="fund_detail"),
    path("funds/<int:pk>/movements/", funds.movement_create, name="movement_create"),
    path(
        "funds/<int:pk>/transactions/<int:txn_pk>/reverse/",
        funds.transaction_reverse,
        name="transaction_reverse",
    ),
    path("funds/<int:pk>/statement/", funds.statement, name="statement"),
    # Loss claims
    path("claims/", claims.claim_list, name="claim_list"),
    path("claims/<int:pk>/", claims.claim_detail, name="claim_detail"),
    path("claims/<int:pk>/steps/<str:name>/", claims.claim_step, name="claim_step"),
    path("loans/<int:loan_pk>/claim/", claims.claim_file, name="claim_file"),
    # Recoveries and the return of the fund's share
    path("recoveries/", recoveries.recovery_list, name="recovery_list"),
    path("recoveries/<int:pk>/return/", recoveries.recovery_return, name="recovery_return"),
    path("claims/<int:claim_pk>/recoveries/new/", recoveries.recovery_create, name="recovery_create"),
]
