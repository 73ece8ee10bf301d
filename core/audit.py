from __future__ import annotations

import csv
import io

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from .cells import csv_text
from .middleware import current_address
from .models import AuditEvent
from .templatetags.core_tags import money


def audit(*, actor, action: str, obj: models.Model, reason: str = "", data: dict | None = None):
    """Record one change. Call inside the service's transaction. The address is the client's of
    the request being served (core.middleware.AuditAddressMiddleware); a task leaves it empty."""
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        reason=reason,
        data=data or {},
        address=current_address.get(),
    )


# ---------------------------------------------------------------------------------------------
# Reading the trail: labels and changes as people read them (the audit viewer and its export)

# What each action code means. A code missing here (one added later) is shown as it is.
ACTION_LABELS = {
    "user.create": gettext_lazy("User created"),
    "user.update": gettext_lazy("User changed"),
    "user.roles_change": gettext_lazy("User roles changed"),
    "user.delete": gettext_lazy("User deleted"),
    "user.password_change": gettext_lazy("Password changed"),
    "user.password_set": gettext_lazy("Password set by an administrator"),
    "orgunit.create": gettext_lazy("Organisation unit created"),
    "orgunit.update": gettext_lazy("Organisation unit changed"),
    "household.create": gettext_lazy("Household created"),
    "household.update": gettext_lazy("Household changed"),
    "household.export": gettext_lazy("Households exported"),
    "household.export_full_ids": gettext_lazy("Households exported with full ID numbers"),
    "loan.export_book": gettext_lazy("Loan book exported"),
    "loan.export_overdue": gettext_lazy("Overdue loans exported"),
    "member.identity_correct": gettext_lazy("Member's name or ID number corrected"),
    "member.id_number_view": gettext_lazy("Full ID number viewed"),
    "member.event": gettext_lazy("Death or disability recorded"),
    "rating.create": gettext_lazy("Credit rating"),
    "blacklist.add": gettext_lazy("Put on the blacklist"),
    "blacklist.remove": gettext_lazy("Removed from the blacklist"),
    "blacklist.removal_request": gettext_lazy("Blacklist removal requested"),
    "blacklist.removal_approve": gettext_lazy("Blacklist removal approved"),
    "blacklist.removal_reject": gettext_lazy("Blacklist removal rejected"),
    "application.create": gettext_lazy("Application created"),
    "application.update": gettext_lazy("Application edited"),
    "application.photo": gettext_lazy("Investigation photo added"),
    "application.objection": gettext_lazy("Objection raised"),
    # The objection's step on the application (it goes back to the village's review).
    "application.object": gettext_lazy("Application returned to village review by an objection"),
    "application.submit": gettext_lazy("Application submitted"),
    "application.send_back": gettext_lazy("Application sent back"),
    "application.village_approve": gettext_lazy("Approved by the village"),
    "application.village_reject": gettext_lazy("Rejected by the village"),
    "application.withdraw": gettext_lazy("Application withdrawn"),
    "application.end_publicity": gettext_lazy("Publicity ended"),
    "application.accept": gettext_lazy("Accepted by the bank"),
    "application.decline": gettext_lazy("Declined by the bank"),
    "application.approve": gettext_lazy("Loan approved"),
    "application.reject": gettext_lazy("Loan rejected"),
    "application.return_to_officer": gettext_lazy("Returned to the loan officer"),
    "application.disburse": gettext_lazy("Application disbursed"),
    "loan.disburse": gettext_lazy("Loan disbursed"),
    "loan.import": gettext_lazy("Existing loans imported"),
    "loan.account": gettext_lazy("Borrower's account recorded"),
    "loan.repayment": gettext_lazy("Repayment recorded"),
    "loan.settle": gettext_lazy("Loan repaid in full"),
    "loan.classify": gettext_lazy("Loan classification changed"),
    "loan.check": gettext_lazy("Post-loan check recorded"),
    "loan.extension_request": gettext_lazy("Extension requested"),
    "loan.extension_approve": gettext_lazy("Extension approved"),
    "loan.extension_reject": gettext_lazy("Extension rejected"),
    "loan.renewal_start": gettext_lazy("Renewal started"),
    "loan.renewal_replace": gettext_lazy("Loan replaced by its renewal"),
    "loan.additional_start": gettext_lazy("Additional loan started"),
    "loan.malicious_default": gettext_lazy("Malicious default recorded"),
    "loan.insurance_policy": gettext_lazy("Insurance policy recorded"),
    "loan.insurance_payout": gettext_lazy("Insurance payout recorded"),
    "settlement.import": gettext_lazy("Settlement list imported"),
    "settlement.paid_late": gettext_lazy("Settlement paid late"),
    "settlement.manual": gettext_lazy("Settlement entered by hand"),
    "settlement.correct": gettext_lazy("Settlement corrected"),
    "settlement.confirm": gettext_lazy("Settlement confirmed"),
    "subsidy_batch.create": gettext_lazy("Subsidy batch created"),
    "subsidy_batch.compute": gettext_lazy("Subsidy batch computed"),
    "subsidy_batch.resume": gettext_lazy("Subsidy batch computation resumed"),
    "subsidy_batch.finish": gettext_lazy("Subsidy batch computation finished"),
    "subsidy_batch.review": gettext_lazy("Subsidy batch reviewed"),
    "subsidy_batch.send_back": gettext_lazy("Subsidy batch sent back"),
    "subsidy_batch.approve": gettext_lazy("Subsidy batch approved"),
    "subsidy_batch.pay": gettext_lazy("Subsidy batch paid"),
    "subsidy_batch.cancel": gettext_lazy("Subsidy batch cancelled"),
    "subsidy_batch.export_xlsx": gettext_lazy("Subsidy details exported"),
    "subsidy_batch.export_summary_pdf": gettext_lazy("Subsidy summary exported"),
    "subsidy_batch.export_public_pdf": gettext_lazy("Subsidy publicity list exported"),
    "subsidy_batch.export_payment_csv": gettext_lazy("Subsidy payment file exported"),
    "policy_profile.create": gettext_lazy("Policy profile created"),
    "rate.create": gettext_lazy("Interest rate entered"),
    "calendar_year.define": gettext_lazy("Working-day calendar entered"),
    "calendar_year.replace": gettext_lazy("Working-day calendar replaced"),
    "audit_log.export": gettext_lazy("Audit log exported"),
    "daily_job.run": gettext_lazy("Scheduled job run by an administrator"),
    "riskfund.fund_create": gettext_lazy("Risk fund recorded"),
    "riskfund.deposit": gettext_lazy("Deposit into the risk fund"),
    "riskfund.interest": gettext_lazy("Risk fund interest recorded"),
    "riskfund.withdrawal": gettext_lazy("Withdrawal from the risk fund"),
    "riskfund.compensation": gettext_lazy("Compensation paid from the risk fund"),
    "riskfund.recovery": gettext_lazy("Recovery returned to the risk fund"),
    "riskfund.reversal": gettext_lazy("Risk fund transaction reversed"),
    "riskfund.recovery_record": gettext_lazy("Recovery recorded"),
    "riskfund.recovery_return": gettext_lazy("Recovery's fund share returned"),
    "compensation_claim.file": gettext_lazy("Compensation claim filed"),
    "compensation_claim.review": gettext_lazy("Compensation claim reviewed"),
    "compensation_claim.approve": gettext_lazy("Compensation claim approved"),
    "compensation_claim.reject": gettext_lazy("Compensation claim rejected"),
    "compensation_claim.withdraw": gettext_lazy("Compensation claim withdrawn"),
    "compensation_claim.pay": gettext_lazy("Compensation claim paid"),
    "loan.compensate": gettext_lazy("Loan compensated by the risk fund"),
    "archive.document_upload": gettext_lazy("Archive document uploaded"),
    "archive.dossier_print": gettext_lazy("Household dossier printed"),
    "archives.completeness_export": gettext_lazy("Archive completeness report exported"),
    "dossier_batch.start": gettext_lazy("Dossier batch started"),
    "dossier_batch.resume": gettext_lazy("Dossier batch resumed"),
    "dossier_batch.download": gettext_lazy("Dossier batch downloaded"),
}


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def object_type_label(object_type: str) -> str:
    """The model's name as people say it (its verbose name), or the code for a model that is gone."""
    try:
        return str(apps.get_model(object_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return object_type


# Keys services record that are not model fields (an ID number is stored encrypted and hashed).
KEY_LABELS = {
    "id_number": pgettext_lazy("audit data", "ID number"),
    "members": pgettext_lazy("audit data", "members"),
    "count": pgettext_lazy("audit data", "count"),
    "rows": pgettext_lazy("audit data", "rows"),
    "filters": pgettext_lazy("audit data", "filters"),
    "fields": pgettext_lazy("audit data", "fields changed"),
    "granted": pgettext_lazy("audit data", "roles granted"),
    "revoked": pgettext_lazy("audit data", "roles revoked"),
    "filename": pgettext_lazy("audit data", "file name"),
    "via": pgettext_lazy("audit data", "through"),
    "household": pgettext_lazy("audit data", "household"),
    "households": pgettext_lazy("audit data", "households"),
    "member": pgettext_lazy("audit data", "member"),
    "application": pgettext_lazy("audit data", "loan application"),
    "loans": pgettext_lazy("audit data", "loans"),
    "unsettled_loans": pgettext_lazy("audit data", "loans not yet settled"),
    "entry": pgettext_lazy("audit data", "blacklist entry"),
    "extension": pgettext_lazy("audit data", "extension"),
    "check": pgettext_lazy("audit data", "post-loan check"),
    "policy": pgettext_lazy("audit data", "policy"),
    "old": pgettext_lazy("audit data", "before"),
    "new": pgettext_lazy("audit data", "after"),
    "from": pgettext_lazy("audit data", "from"),
    "to": pgettext_lazy("audit data", "to"),
    "previous": pgettext_lazy("audit data", "previous"),
    "replaced_by": pgettext_lazy("audit data", "replaced by"),
    "locked": pgettext_lazy("audit data", "locked"),
    "tokens_revoked": pgettext_lazy("audit data", "API tokens ended"),
    "purpose": pgettext_lazy("audit data", "purpose"),
    "basis": pgettext_lazy("audit data", "basis"),
}

# Words services record as values of the keys above (where a full-ID view came from).
VALUE_LABELS = {
    "page": pgettext_lazy("audit data", "page"),
    "api": pgettext_lazy("audit data", "API"),
}


def _field_label(model, key: str) -> str:
    if model is not None:
        try:
            field = model._meta.get_field(key)
        except FieldDoesNotExist:
            field = None
        # A reverse relation (a loan's "repayment") has no verbose name of its own.
        if getattr(field, "verbose_name", None):
            return str(field.verbose_name)
    return str(KEY_LABELS.get(key, key))


def _pair(label, value) -> str:
    """ "label: value" with the language's colon (名称：李飞)."""
    return pgettext("audit data", "%(label)s: %(value)s") % {"label": label, "value": value}


def _joined(parts) -> str:
    """Items of a snapshot one after another, with the language's separator (；)."""
    return pgettext("audit data", "; ").join(parts)


def _model_field(model, key: str):
    if model is None:
        return None
    try:
        return model._meta.get_field(key)
    except FieldDoesNotExist:
        return None


def _value(model, key: str, value) -> str:
    """`value` of field `key` as text: a choice by its label (劳动能力: 无, not "none"), an amount
    of a money field (a DecimalField of two places) as 50,000.00, a reference to another row
    (a foreign key) as #600, so it does not read as a quantity."""
    field = _model_field(model, key)
    if field is not None and isinstance(value, str | int) and not isinstance(value, bool):
        choices = getattr(field, "flatchoices", None)
        if choices:
            return str(dict(choices).get(value, value))
        if isinstance(field, models.DecimalField) and field.decimal_places == 2:
            return money(value)
        if field.many_to_one and str(value).isdigit():
            return f"#{value}"
    if key == "via" and value in VALUE_LABELS:
        return str(VALUE_LABELS[value])
    return _text(value)


def _text(value) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return pgettext("audit data", ", ").join(_text(v) for v in value)
    if isinstance(value, dict):
        # An ID number is recorded as its keyed hash and masked form; people read the masked one.
        if "masked" in value:
            return str(value["masked"])
        return _joined(_pair(k, _text(v)) for k, v in value.items())
    return str(value)


def _model(label: str):
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


def _snapshot(model, item: dict) -> str:
    return _joined(_pair(_field_label(model, k), _value(model, k, v)) for k, v in item.items() if k != "id")


def _nested_rows(model, block: dict) -> list[dict]:
    """household.update's members: {"added": [...], "changed": [{"id", "changed": {field: [b, a]}}],
    "removed": [...]}, one row per changed field of each member."""
    rows = []
    for item in block.get("changed") or []:
        who = _("member #%(id)s") % {"id": item.get("id")}
        for field, pair in (item.get("changed") or {}).items():
            if isinstance(pair, list | tuple) and len(pair) == 2:
                label = f"{who} {_field_label(model, field)}"
                rows.append(
                    {
                        "label": label,
                        "before": _value(model, field, pair[0]),
                        "after": _value(model, field, pair[1]),
                    }
                )
    for item in block.get("added") or []:
        rows.append({"label": _("member added"), "value": _snapshot(model, item)})
    for item in block.get("removed") or []:
        rows.append({"label": _("member removed"), "value": _snapshot(model, item)})
    return rows


# Keys whose value lists the changes of related objects, and their model.
NESTED = {"members": "households.Member"}
# Objects whose events list added and removed related objects at the top level (household.create).
NESTED_BY_TYPE = {"households.household": "households.Member"}
# Keys under which services record a change as before and after.
PAIRS = (("old", "new"), ("before", "after"), ("from", "to"))
# Keys whose value maps each changed field to [before, after].
CHANGE_MAPS = ("changed", "fields_changed")


def changes(event: AuditEvent) -> list[dict]:
    """The event's data as rows people can read: {"label", "before", "after"} for a change, and
    {"label", "value"} for anything else. Field names become the model's field labels where the
    object's model has that field. Computed without queries (the page stays at a fixed count)."""
    data = event.data if isinstance(event.data, dict) else {"": event.data}
    model = _model(event.object_type)
    rows: list[dict] = []
    done: set[str] = set()
    for first, second in PAIRS:
        if first in data and second in data:
            done.update((first, second))
            before, after = data[first], data[second]
            # A creation records no "before", a deletion no "after".
            if isinstance(before, dict | None) and isinstance(after, dict | None) and (before or after):
                before, after = before or {}, after or {}
                for key in dict.fromkeys([*before, *after]):
                    if before.get(key) != after.get(key):
                        rows.append(
                            {
                                "label": _field_label(model, key),
                                "before": _value(model, key, before.get(key)),
                                "after": _value(model, key, after.get(key)),
                            }
                        )
            else:
                label = _("state") if first == "from" else ""
                if first == "from":
                    before, after = _value(model, "state", before), _value(model, "state", after)
                rows.append({"label": label, "before": _text(before), "after": _text(after)})
    for key in CHANGE_MAPS:
        mapping = data.get(key)
        if isinstance(mapping, dict):
            done.add(key)
            for field, pair in mapping.items():
                if isinstance(pair, list | tuple) and len(pair) == 2:
                    rows.append(
                        {
                            "label": _field_label(model, field),
                            "before": _value(model, field, pair[0]),
                            "after": _value(model, field, pair[1]),
                        }
                    )
                else:
                    rows.append({"label": _field_label(model, field), "value": _value(model, field, pair)})
    for key, label in NESTED.items():
        if isinstance(data.get(key), dict) and isinstance(data[key].get("changed", []), list):
            done.add(key)
            rows += _nested_rows(_model(label), data[key])
    if event.object_type in NESTED_BY_TYPE:
        lists = {k: data[k] for k in ("added", "removed") if isinstance(data.get(k), list)}
        if lists:
            done.update(lists)
            rows += _nested_rows(_model(NESTED_BY_TYPE[event.object_type]), lists)
    for key, value in data.items():
        if key not in done:
            rows.append({"label": _field_label(model, key), "value": _value(model, key, value)})
    return rows


def changes_text(event: AuditEvent) -> str:
    """The changes on one line, for the export."""
    parts = []
    for row in changes(event):
        text = row["value"] if "value" in row else f"{row['before']} → {row['after']}"
        parts.append(_pair(row["label"], text) if row["label"] else text)
    return _joined(parts)


# At most this many events go into one export; a larger selection is refused and the page asks
# for narrower filters, rather than cut the file short without saying so.
EXPORT_MAX_ROWS = 10000


def audit_log_csv(*, acting_user, events, filters: dict) -> str:
    """The events as CSV text (every cell through core.cells.csv_text, so a reason such as
    "=HYPERLINK(…)" stays text), and an audit row saying who exported what. `events` is already
    scoped and counted (at most EXPORT_MAX_ROWS)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            _("Time"),
            _("User name"),
            _("Full name"),
            _("Address"),
            _("Action"),
            _("Action code"),
            _("Object"),
            _("Object id"),
            _("Reason"),
            _("Changes"),
        ]
    )
    count = 0
    for event in events:
        count += 1
        actor = event.actor
        writer.writerow(
            csv_text(cell)
            for cell in (
                timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M:%S"),
                actor.username if actor else _("System"),
                actor.name if actor else "",
                event.address or "",
                action_label(event.action),
                event.action,
                object_type_label(event.object_type),
                event.object_id,
                event.reason,
                changes_text(event),
            )
        )
    with transaction.atomic():
        audit(
            actor=acting_user,
            action="audit_log.export",
            obj=acting_user,
            data={"rows": count, "filters": {k: str(v) for k, v in filters.items() if v not in (None, "")}},
        )
    return out.getvalue()
