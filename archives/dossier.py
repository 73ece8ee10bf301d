"""A household's dossier (一户一档, DOMAIN §9) as one PDF: a cover, a table of contents, the forms
the system keeps (ratings, applications with their eligibility results, publicity, investigation,
approval and disbursement, settlements and subsidies, post-loan checks, classification history,
the full timeline), then the uploaded documents: images and photos placed on pages, uploaded PDFs
appended after the rendered part (the footer is laid over their pages too).

Printed by WeasyPrint with the system's Noto CJK font and static/css/archives_dossier_pdf.css;
the fetcher refuses every URL (images are embedded as data: URIs read from storage)."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit
from core.exceptions import ApplicationError
from households.models import Household, Member
from households.permissions import can_see_full_id
from households.services.households import member_id_numbers_reveal
from loans import eligibility
from loans.models import ApplicationHistory, LoanApplication, LoanStateChange
from loans.models_postloan import PostLoanCheck
from riskfund.models import CompensationClaim

from .models import ArchiveDocument

PDF_CSS = "css/archives_dossier_pdf.css"
IMAGE_TYPES = ("image/jpeg", "image/png")


@dataclass
class Dossier:
    pdf: bytes
    pages: int


def section_titles() -> dict[str, str]:
    """The sections in the order printed; the keys are the anchors of the table of contents."""
    return {
        "household": _("Household and members"),
        "ratings": _("Rating and credit"),
        "applications": _("Applications and eligibility"),
        "publicity": _("Publicity"),
        "investigation": _("Investigation"),
        "loans": _("Approval and disbursement"),
        "settlements": _("Settlements and interest subsidies"),
        "checks": _("Post-loan checks"),
        "classification": _("Classification history"),
        "timeline": _("History"),
        "documents": _("Uploaded documents"),
    }


def _data_uri(field_file, content_type: str) -> str | None:
    """The stored image as a data: URI, or None when the file is missing from storage."""
    try:
        with field_file.open("rb") as f:
            data = f.read()
    except (OSError, ValueError):
        return None
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"


def _image_type(name: str) -> str:
    return "image/png" if name.lower().endswith(".png") else "image/jpeg"


def _unit_chain(village) -> str:
    names = []
    unit = village
    while unit is not None:
        names.append(unit.name)
        unit = unit.parent
    return " ".join(reversed(names))


def _eligibility_rows(app: LoanApplication) -> list[dict]:
    try:
        report = eligibility.evaluate_application(
            app,
            on_date=timezone.localdate(),
            stage="check",
            amount=app.approved_amount,
            term_months=app.approved_term_months,
        )
    except ApplicationError as e:  # an application the rules cannot judge any more: say why
        return [
            {
                "rule": _("Eligibility"),
                "passed": False,
                "message": str(e.message),
                "source": "",
            }
        ]
    return [
        {"rule": r.rule, "passed": r.passed, "message": r.message, "source": r.source} for r in report.results
    ]


def _load(household_pk: int) -> Household:
    return (
        Household.objects.select_related("village__parent__parent")
        .prefetch_related(
            Prefetch("members", queryset=Member.objects.order_by("-is_head", "id")),
            Prefetch("ratings", queryset=household_ratings()),
            Prefetch(
                "applications",
                queryset=LoanApplication.objects.select_related(
                    "borrower", "branch", "created_by", "investigated_by", "approved_by"
                )
                .prefetch_related(
                    "notices",
                    "objections",
                    "photos",
                    Prefetch(
                        "history",
                        queryset=ApplicationHistory.objects.select_related("by").order_by("at", "id"),
                    ),
                )
                .order_by("created_at", "id"),
            ),
            Prefetch(
                "loans__checks",
                queryset=PostLoanCheck.objects.select_related("officer")
                .prefetch_related("photos")
                .order_by("due_on", "id"),
            ),
            "loans__borrower",
            "loans__settlements",
            "loans__classification_changes__by",
            Prefetch(
                "loans__state_changes",
                queryset=LoanStateChange.objects.select_related("by").order_by("at", "id"),
            ),
            "loans__subsidy_lines__batch",
            Prefetch("loans__compensation_claims", queryset=CompensationClaim.objects.order_by("id")),
            Prefetch(
                "archive_documents",
                queryset=ArchiveDocument.objects.select_related("loan", "uploaded_by").order_by(
                    "item", "uploaded_at", "id"
                ),
            ),
        )
        .get(pk=household_pk)
    )


def household_ratings():
    from households.models import CreditRating

    return CreditRating.objects.select_related("rated_by").order_by("-valid_from", "-id")


def _context(household: Household, *, user, via: str) -> dict:
    all_members = list(household.members.all())
    full = {}
    if user is not None and can_see_full_id(user):
        # Every full number printed is a recorded reveal (DOMAIN §2), as on the household page.
        full = member_id_numbers_reveal(acting_user=user, members=all_members, via=via)
    members = [{"m": m, "id_number": full.get(m.pk) or m.id_number_masked} for m in all_members]
    head = next((m for m in household.members.all() if m.is_head), None)
    applications = list(household.applications.all())
    loans = sorted(household.loans.all(), key=lambda loan: (loan.disbursed_on, loan.pk))
    apps = [{"app": a, "rules": _eligibility_rows(a)} for a in applications]
    inv_photos = [
        {"uri": _data_uri(p.image, _image_type(p.image.name)), "caption": p.caption, "app": a}
        for a in applications
        for p in a.photos.all()
    ]
    checks = [(loan, c) for loan in loans for c in loan.checks.all()]
    check_photos = [
        {"uri": _data_uri(p.image, _image_type(p.image.name)), "caption": p.caption, "check": c}
        for _loan, c in checks
        for p in c.photos.all()
    ]
    timeline = []
    for a in applications:
        for h in a.history.all():
            timeline.append(
                {
                    "at": h.at,
                    "what": _("Application %(pk)s") % {"pk": a.pk},
                    "text": h.get_to_state_display(),
                    "by": h.by,
                    "note": h.comment,
                }
            )
    for loan in loans:
        for s in loan.state_changes.all():
            timeline.append(
                {
                    "at": s.at,
                    "what": loan.contract_no,
                    "text": s.get_to_state_display(),
                    "by": s.by,
                    "note": s.reason,
                }
            )
        for claim in loan.compensation_claims.all():
            timeline.append(
                {
                    "at": getattr(claim, "created_at", None) or getattr(claim, "filed_at", None),
                    "what": loan.contract_no,
                    "text": _("Compensation claim: %(state)s") % {"state": claim.get_state_display()},
                    "by": None,
                    "note": "",
                }
            )
    timeline.sort(key=lambda e: (e["at"] is None, e["at"] or timezone.now()))
    images, pdfs = [], []
    for d in household.archive_documents.all():
        if d.content_type in IMAGE_TYPES:
            images.append({"doc": d, "uri": _data_uri(d.file, d.content_type)})
        else:
            pdfs.append(d)
    return {
        "household": household,
        "head": head,
        "members": members,
        "place": _unit_chain(household.village),
        "ratings": list(household.ratings.all()),
        "apps": apps,
        "loans": loans,
        "settlements": [(loan, s) for loan in loans for s in loan.settlements.all()],
        "subsidies": [(loan, s) for loan in loans for s in loan.subsidy_lines.all()],
        "checks": checks,
        "classifications": [(loan, c) for loan in loans for c in loan.classification_changes.all()],
        "timeline": timeline,
        "inv_photos": inv_photos,
        "check_photos": check_photos,
        "images": images,
        "pdfs": pdfs,
        "sections": section_titles(),
        "printed_at": timezone.localtime(),
        "printed_by": (getattr(user, "name", "") or user.get_username()) if user else "",
    }


def _readers(pdfs: list[ArchiveDocument]) -> list:
    """The uploaded PDFs that can be read; a damaged or missing one is skipped (the rendered list
    of documents still names it)."""
    from pypdf import PdfReader

    readers = []
    for d in pdfs:
        try:
            with d.file.open("rb") as f:
                reader = PdfReader(io.BytesIO(f.read()))
            len(reader.pages)
        except Exception:
            continue
        readers.append(reader)
    return readers


def render_html(household: Household, *, user, via: str = "dossier") -> tuple[str, list]:
    """The HTML of the rendered part and the readers of the PDFs to append. The HTML ends with one
    empty page per appended page: WeasyPrint prints only their footers, which are laid over the
    appended pages, so every page carries the footer and 共 M 页 counts them all."""
    ctx = _context(_load(household.pk), user=user, via=via)
    readers = _readers(ctx["pdfs"])
    ctx["placeholders"] = range(sum(len(r.pages) for r in readers))
    return render_to_string("archives/dossier_pdf.html", ctx), readers


def dossier_filename(household: Household) -> str:
    return f"{_('Household dossier')}-{household.registration_no}.pdf"


def dossier_pdf(household: Household, *, user, via: str = "dossier") -> Dossier:
    """The household's dossier for `user` (full ID numbers only for the roles allowed them, each
    reveal audited), and an audit row "archive.dossier_print": who printed whose file, through
    which door (`via`: "page", "api", "batch")."""
    from django.contrib.staticfiles import finders
    from pypdf import PdfReader
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher

    html, readers = render_html(household, user=user, via=via)
    fetcher = URLFetcher(allowed_protocols={"data"})
    style = CSS(filename=finders.find(PDF_CSS), url_fetcher=fetcher)
    rendered = HTML(string=html, url_fetcher=fetcher).write_pdf(stylesheets=[style])
    if not readers:
        result = Dossier(pdf=rendered, pages=len(PdfReader(io.BytesIO(rendered)).pages))
    else:
        result = _append(rendered, readers)
    audit(
        actor=user,
        action="archive.dossier_print",
        obj=household,
        data={"via": via, "pages": result.pages, "full_id": user is not None and can_see_full_id(user)},
    )
    return result


def _append(rendered: bytes, readers: list) -> Dossier:
    """The rendered pages, then every uploaded PDF's pages, each with the footer of its
    placeholder page (the last pages of the rendered part) laid over it."""
    from pypdf import PdfReader, PdfWriter

    main = PdfReader(io.BytesIO(rendered))
    appended = [page for reader in readers for page in reader.pages]
    body = len(main.pages) - len(appended)
    writer = PdfWriter()
    for page in main.pages[:body]:
        writer.add_page(page)
    for page, footer in zip(appended, main.pages[body:], strict=True):
        added = writer.add_page(page)
        added.merge_page(footer)
    out = io.BytesIO()
    writer.write(out)
    return Dossier(pdf=out.getvalue(), pages=len(writer.pages))
