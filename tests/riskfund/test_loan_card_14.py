"""The risk-fund card on a loan's page (issue 14): shown when the fund has something to say about
the loan — a claim, or a trigger that has started (overdue, death, entrusted) — and then a button
only for those who can file or read claims; a normal, current loan gets no card at all."""

import datetime

from django.urls import reverse

from tests.riskfund.claim_helpers import file, make_loan


def card(client, loan) -> str | None:
    html = client.get(reverse("loans:book_detail", args=[loan.pk])).content.decode()
    if 'id="compensation"' not in html:
        return None
    start = html.index('id="compensation"')
    return html[start : html.index("</section>", start)]


def test_a_current_loan_has_no_card(world, client_as):
    loan = make_loan(world, maturity_on=datetime.date(2028, 1, 1))
    assert card(client_as(world.officer), loan) is None
    assert card(client_as(world.cadre), loan) is None


def test_an_overdue_loan_has_the_card_and_the_officer_may_file(world, client_as):
    loan = make_loan(world)  # matured 2025-01-01, long past the waiting period
    shown = card(client_as(world.officer), loan)
    assert shown is not None and reverse("riskfund:claim_file", args=[loan.pk]) in shown
    # The village's cadre sees the dates but no button into the fund's pages.
    cadre = card(client_as(world.cadre), loan)
    assert cadre is not None and reverse("riskfund:claim_file", args=[loan.pk]) not in cadre


def test_a_loan_with_a_claim_shows_it(world, client_as):
    loan = make_loan(world)
    claim = file(world, loan)
    shown = card(client_as(world.officer), loan)
    assert shown is not None and reverse("riskfund:claim_detail", args=[claim.pk]) in shown
