"""Workflows that change an onboarding: start, tick, read, sign off, clear, reopen.

Each one records an ``Activity`` (who, when) and reconciles the onboarding's
stored readiness in its own transaction (``reconcile.reconcile``), so what the
dashboard and the reminders read is never stale after someone acts.

Who vouches for what:

- a task or access check: the engineer ticks it (or a lead, whose tick
  on an item that needs a sign-off is the sign-off too);
- a runbook read: only the engineer, only after opening the runbook's page at
  that revision (the page hands out a signed proof, ``reading_proof``);
- a sign-off: a lead, on what is done now; unticking the item or changing its
  note afterwards withdraws it, and the lead who gave it is told;
- a shadow shift: the primary or a lead confirms it (``shifts.schedule``);
- a drill: a game master other than the engineer grades it pass
  (``drills.running``); no one ticks a drill item;
- a live page: the shift's primary or a lead marks the engineer's response
  handled well (``drills``); no one ticks a respond-to-pages item.
"""

from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from oncall.readiness import gate
from oncall.readiness.models import (
    SHIFT_KINDS,
    Activity,
    ChecklistTemplate,
    ItemProgress,
    Kind,
    Onboarding,
    TemplateItem,
)
from oncall.readiness.reconcile import reconcile
from oncall.runbooks.models import Revision, Runbook
from oncall.teams.access import is_lead
from oncall.teams.people import display_name

Verb = Activity.Verb

READING_SALT = "oncall.readiness.opened"
# A proof of opening a runbook is good for a working week: enough to read a
# long runbook over a few days, short enough that a leaked page is no pass.
READING_PROOF_MAX_AGE = 7 * 24 * 3600


class ReadinessError(Exception):
    """An action the state of the onboarding does not allow; the message says why."""


@transaction.atomic
def start_onboarding(
    *,
    engineer,
    team,
    template: ChecklistTemplate,
    started_by,
    mentor=None,
    lead=None,
    target_date=None,
) -> Onboarding:
    """Start an onboarding: copy the template's items as they are today."""
    now = timezone.now()
    onboarding = Onboarding.objects.create(
        engineer=engineer,
        team=team,
        template=template,
        mentor=mentor,
        lead=lead or started_by,
        started_at=now,
        target_date=target_date,
        last_activity_at=now,
    )
    ItemProgress.objects.bulk_create(
        ItemProgress.from_template_item(item, onboarding=onboarding)
        for item in TemplateItem.objects.filter(template=template)
    )
    onboarding.log(Verb.START, actor=started_by, at=now)
    reconcile(onboarding)
    return onboarding


def _reading_error() -> ReadinessError:
    return ReadinessError(
        _("Open the runbook and mark it read on its page: reading counts once you have opened it.")
    )


def _refuse_counted(item: ItemProgress) -> None:
    if item.kind in SHIFT_KINDS:
        raise ReadinessError(_("Shadow shifts count once the primary confirms them."))
    if item.kind == Kind.DRILL:
        raise ReadinessError(_("Drills count once a game master grades them pass."))
    if item.kind == Kind.RESPOND_TO_PAGES:
        raise ReadinessError(
            _("Live pages count once the shift’s primary or a lead marks them handled well.")
        )


@transaction.atomic
def tick_item(*, item: ItemProgress, by, note: str = "") -> None:
    """Mark an item done. A lead's tick on an item that needs a sign-off signs it off too."""
    onboarding = item.onboarding
    _refuse_counted(item)
    if item.kind == Kind.READ_RUNBOOK and item.runbook_id is not None:
        if item.runbook.current_revision_id is not None:
            raise _reading_error()
        if by.pk != onboarding.engineer_id:
            raise ReadinessError(_("Only the person onboarding marks a runbook read."))
    if item.done_at is not None:
        raise ReadinessError(_("This item is already done."))
    item.tick(by=by, note=note)
    onboarding.log(Verb.TICK, actor=by, item=item, note=note)
    if item.needs_signoff and by.pk != onboarding.engineer_id and is_lead(by, onboarding.team):
        item.sign_off(by=by)
        onboarding.log(Verb.SIGN_OFF, actor=by, item=item)
    reconcile(onboarding)


@transaction.atomic
def untick_item(*, item: ItemProgress, by, note: str = "") -> None:
    _refuse_counted(item)
    signer = item.signed_off_by
    withdrawn = item.untick()
    if note:
        item.set_note(note)
    item.onboarding.log(Verb.UNTICK, actor=by, item=item, note=note)
    if withdrawn:
        _log_withdrawn(item, by=by, signer=signer)
    reconcile(item.onboarding)


@transaction.atomic
def note_item(*, item: ItemProgress, by, note: str) -> None:
    """Change an item's note. After a sign-off that changes the evidence, so the sign-off lapses."""
    if note == item.note:
        return
    signer = item.signed_off_by
    withdrawn = item.set_note(note)
    item.onboarding.log(Verb.NOTE, actor=by, item=item, note=note)
    if withdrawn:
        _log_withdrawn(item, by=by, signer=signer)
        reconcile(item.onboarding)


def comment(*, onboarding: Onboarding, by, note: str) -> None:
    """A note on the onboarding as a whole (a mentor's word, a lead's): activity, not evidence."""
    onboarding.log(Verb.COMMENT, actor=by, note=note, progress=by.pk == onboarding.engineer_id)


def _log_withdrawn(item: ItemProgress, *, by, signer) -> None:
    item.onboarding.log(
        Verb.SIGNOFF_WITHDRAWN,
        actor=by,
        item=item,
        note=_("%(name)s had signed it off") % {"name": display_name(signer)},
    )


def reading_proof(*, user, revision: Revision) -> str:
    """A signed note that ``user`` opened this revision's page now.

    The runbook page puts it in its "Mark as read" form, so opening the page
    is what makes reading possible, and a GET still writes nothing.
    """
    return signing.dumps({"u": user.pk, "v": revision.pk}, salt=READING_SALT)


def opened_revision(proof: str, *, user) -> int:
    """The revision a proof says ``user`` opened; ReadinessError if it does not hold."""
    try:
        data = signing.loads(proof, salt=READING_SALT, max_age=READING_PROOF_MAX_AGE)
    except signing.SignatureExpired as e:
        raise ReadinessError(_("That page was opened too long ago: open the runbook again.")) from e
    except signing.BadSignature as e:
        raise _reading_error() from e
    if not isinstance(data, dict) or data.get("u") != user.pk or not isinstance(data.get("v"), int):
        raise _reading_error()
    return data["v"]


@transaction.atomic
def mark_runbook_read(*, engineer, runbook: Runbook, proof: str) -> int:
    """Mark every checklist item of the engineer's for this runbook as read.

    Accepted only from the engineer, with the proof their opening of the
    runbook's page handed out, and only for the revision that is current now.
    Items of cleared onboardings are updated too: a cleared engineer still
    wants to know they are up to date. Returns how many items were marked.
    """
    revision = runbook.current_revision
    if revision is None:
        raise ReadinessError(_("This runbook has no revision to read yet."))
    opened = opened_revision(proof, user=engineer)
    if opened != revision.pk:
        raise ReadinessError(
            _("The runbook changed since you opened it: read revision %(number)d, then mark it.")
            % {"number": revision.number}
        )
    items = list(
        ItemProgress.objects.filter(
            onboarding__engineer=engineer, kind=Kind.READ_RUNBOOK, runbook=runbook
        ).select_related("onboarding")
    )
    for item in items:
        if item.revision_read_id == revision.pk:
            continue
        item.mark_read(revision=revision, by=engineer)
        item.onboarding.log(
            Verb.TICK,
            actor=engineer,
            item=item,
            note=_("read revision %(number)d") % {"number": revision.number},
        )
        reconcile(item.onboarding)
    return len(items)


@transaction.atomic
def sign_off_item(*, item: ItemProgress, by) -> None:
    onboarding = item.onboarding
    if by.pk == onboarding.engineer_id:
        raise ReadinessError(_("Someone else signs off your own checklist."))
    if not item.needs_signoff:
        raise ReadinessError(_("This item does not need a sign-off."))
    if item.signed_off_at is not None:
        raise ReadinessError(_("This item is already signed off."))
    items = list(onboarding.items.select_related("runbook"))
    result = gate.evaluate(onboarding, items=items)
    if not result.statuses[item.pk].done:
        raise ReadinessError(_("This item is not done yet, so there is nothing to sign off."))
    item.sign_off(by=by)
    onboarding.log(Verb.SIGN_OFF, actor=by, item=item)
    reconcile(onboarding)


@transaction.atomic
def clear_onboarding(*, onboarding: Onboarding, by, note: str = "") -> None:
    """Clear an engineer for on-call: only when the gate passes, recorded with who and when."""
    onboarding = Onboarding.objects.select_for_update().get(pk=onboarding.pk)
    if onboarding.is_cleared:
        raise ReadinessError(_("Already cleared for on-call."))
    if by.pk == onboarding.engineer_id:
        raise ReadinessError(_("Someone else clears you for on-call."))
    result = reconcile(onboarding)
    if not result.passed:
        raise ReadinessError(
            _("Not ready yet: %(explanation)s.") % {"explanation": result.explanation}
        )
    onboarding.clear(by=by)
    onboarding.log(Verb.CLEAR, actor=by, note=note)


@transaction.atomic
def reopen_onboarding(*, onboarding: Onboarding, by, note: str = "") -> None:
    """Take back a clearance: the onboarding is worked on again, and the gate decides its state."""
    onboarding = Onboarding.objects.select_for_update().get(pk=onboarding.pk)
    if not onboarding.is_cleared:
        raise ReadinessError(_("Only a cleared onboarding can be reopened."))
    onboarding.reopen()
    onboarding.log(Verb.REOPEN, actor=by, note=note)
    reconcile(onboarding)


@transaction.atomic
def move_template_item(*, item: TemplateItem, up: bool) -> None:
    """Swap an item with its neighbour above or below, then number the list 10, 20, 30…

    Moving past a section's edge carries the item into the next section, so
    items can change section by moving too.
    """
    items = list(TemplateItem.objects.select_for_update().filter(template=item.template_id))
    items.sort(key=lambda i: (i.order, i.pk))
    at = next(n for n, i in enumerate(items) if i.pk == item.pk)
    to = at - 1 if up else at + 1
    if 0 <= to < len(items):
        neighbour = items[to]
        if neighbour.section != items[at].section:
            items[at].section = neighbour.section  # into the neighbouring section first
            items[at].section_ja = neighbour.section_ja
        else:
            items[at], items[to] = items[to], items[at]
    for n, each in enumerate(items, start=1):
        each.order = n * 10
    TemplateItem.objects.bulk_update(items, ["order", "section", "section_ja"])
    item.template.touch()


@transaction.atomic
def copy_template(*, template: ChecklistTemplate, team, by, name: str = "") -> ChecklistTemplate:
    """Copy a template (the shipped default, or another team's) for a team to adapt."""
    copy = ChecklistTemplate.objects.create(
        team=team,
        name=name or _("%(name)s (copy)") % {"name": template.name},
        # The Japanese name is Japanese text whatever the copier reads in.
        name_ja=f"{template.name_ja}（コピー）" if template.name_ja and not name else "",
        description=template.description,
        created_by=by,
    )
    TemplateItem.objects.bulk_create(item.copy_to(copy) for item in template.items.all())
    return copy
