"""The readiness gate: the one function that decides whether an onboarding is ready.

Everything that shows or acts on readiness (my onboarding, the leads'
dashboard, the clear action, the periodic state refresh) asks ``evaluate``.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from oncall.readiness.models import SHIFT_KINDS, ItemProgress, Kind, Onboarding
from oncall.shifts.models import ShadowShift

# Which shadow-shift kind a checklist item counts.
SHIFT_KIND_OF_ITEM = {
    Kind.SHADOW_SHIFT: ShadowShift.Kind.SHADOW,
    Kind.REVERSE_SHADOW_SHIFT: ShadowShift.Kind.REVERSE_SHADOW,
}


@dataclass
class ItemStatus:
    """Where one checklist item stands, as the gate sees it."""

    item: ItemProgress
    done: bool  # the trainee's part is done (ticked, read at the current revision, shifts met)
    complete: bool  # done, and signed off where a sign-off is needed
    changed_since_read: bool = False
    shifts_done: int = 0  # for shadow and reverse-shadow items
    steps: int = 1  # units this item weighs in the progress bar
    steps_done: int = 0

    @property
    def awaiting_signoff(self) -> bool:
        return self.done and not self.complete

    @property
    def needs_trainee(self) -> bool:
        """The trainee has something to do here (as opposed to waiting for a lead)."""
        return not self.done


@dataclass
class GateResult:
    passed: bool
    missing: list[str]
    explanation: str
    done: int  # required items complete
    total: int  # required items
    steps_done: int
    steps_total: int
    shadow_done: int = 0
    shadow_required: int = 0
    reverse_done: int = 0
    reverse_required: int = 0
    changed_since_read: int = 0
    awaiting_signoff: int = 0
    statuses: dict[int, ItemStatus] = field(default_factory=dict)

    @property
    def left(self) -> int:
        """Required items not complete yet."""
        return self.total - self.done

    @property
    def percent(self) -> int:
        if self.steps_total == 0:
            return 100
        return round(100 * self.steps_done / self.steps_total)

    def status(self, item: ItemProgress) -> ItemStatus:
        return self.statuses[item.pk]

    def next_steps(self, limit: int = 3) -> list[ItemStatus]:
        """The next things the trainee can do: required first, in checklist order."""
        open_ = [s for s in self.statuses.values() if s.needs_trainee]
        open_.sort(key=lambda s: (not s.item.required, s.item.order, s.item.pk))
        return open_[:limit]


def done_shift_counts(onboarding: Onboarding) -> dict[str, int]:
    """Done shadow shifts of each kind for the onboarding's engineer in its team (one query)."""
    rows = (
        ShadowShift.objects.filter(
            team_id=onboarding.team_id,
            trainee_id=onboarding.engineer_id,
            state=ShadowShift.State.DONE,
        )
        .values("kind")
        .annotate(n=Count("id"))
    )
    return {row["kind"]: row["n"] for row in rows}


def team_shift_counts(team_id: int) -> dict[tuple[int, str], int]:
    """Done shadow shifts per (trainee, kind) in a team, for a whole dashboard (one query)."""
    rows = (
        ShadowShift.objects.filter(team_id=team_id, state=ShadowShift.State.DONE)
        .values("trainee_id", "kind")
        .annotate(n=Count("id"))
    )
    return {(row["trainee_id"], row["kind"]): row["n"] for row in rows}


def _quoted(titles: list[str]) -> str:
    return ", ".join(f"“{t}”" for t in titles)


def evaluate(
    onboarding: Onboarding,
    *,
    items: Iterable[ItemProgress] | None = None,
    shift_counts: dict[str, int] | None = None,
) -> GateResult:
    """Decide whether an onboarding is ready, and say plainly what is missing.

    1. Take the onboarding's items (pass them in, with ``runbook`` loaded, to
       save queries) and its done shadow-shift counts per kind.
    2. Per item: a ``read_runbook`` item is done only when the revision read
       is the runbook's current one (read earlier = "changed since read"); a
       shadow or reverse-shadow item is done when the engineer's done shifts
       of that kind in the team reach its count; any other item is done when
       ticked. An item that needs a sign-off is complete only once signed off.
    3. Progress counts steps: one per item (or one per shift), plus one for
       each sign-off, so ticking and signing off both move the bar.
    4. The gate passes when every required item is complete. The missing
       list names each gap; the explanation groups them into one sentence.
    """
    if items is None:
        items = onboarding.items.select_related("runbook")
    if shift_counts is None:
        shift_counts = done_shift_counts(onboarding)

    statuses: dict[int, ItemStatus] = {}
    result = GateResult(
        passed=False,
        missing=[],
        explanation="",
        done=0,
        total=0,
        steps_done=0,
        steps_total=0,
    )
    not_done: list[str] = []
    unread: list[str] = []
    shift_gaps: list[str] = []
    changed: list[str] = []
    signoffs: list[str] = []

    for item in items:
        signed = item.signed_off_at is not None
        status = ItemStatus(item=item, done=False, complete=False)
        if item.kind in SHIFT_KINDS:
            shifts = shift_counts.get(SHIFT_KIND_OF_ITEM[item.kind], 0)
            status.shifts_done = shifts
            status.done = shifts >= item.count
            status.steps = max(item.count, 1)
            status.steps_done = min(shifts, status.steps)
        elif item.kind == Kind.READ_RUNBOOK and item.runbook_id is not None:
            current = item.runbook.current_revision_id
            if current is None:
                # A runbook with no revision yet: reading is all one can do.
                status.done = item.done_at is not None
            else:
                status.done = item.revision_read_id == current
                status.changed_since_read = (
                    item.revision_read_id is not None and item.revision_read_id != current
                )
            status.steps_done = int(status.done)
        else:
            status.done = item.done_at is not None
            status.steps_done = int(status.done)
        status.complete = status.done and (signed or not item.needs_signoff)
        if item.needs_signoff:
            status.steps += 1
            status.steps_done += int(status.done and signed)
        statuses[item.pk] = status

        if not item.required:
            continue
        result.total += 1
        result.steps_total += status.steps
        result.steps_done += status.steps_done
        if item.kind == Kind.SHADOW_SHIFT:
            result.shadow_done += min(status.shifts_done, item.count)
            result.shadow_required += item.count
        elif item.kind == Kind.REVERSE_SHADOW_SHIFT:
            result.reverse_done += min(status.shifts_done, item.count)
            result.reverse_required += item.count
        if status.complete:
            result.done += 1
            continue

        # Say what is missing for this required item.
        if status.changed_since_read:
            result.changed_since_read += 1
            changed.append(item.title)
            result.missing.append(_("“%(title)s” changed since read") % {"title": item.title})
        elif not status.done and item.kind in SHIFT_KINDS:
            noun = (
                ngettext("shadow shift", "shadow shifts", item.count)
                if item.kind == Kind.SHADOW_SHIFT
                else ngettext("reverse-shadow shift", "reverse-shadow shifts", item.count)
            )
            gap = _("%(done)d of %(count)d %(noun)s") % {
                "done": status.shifts_done,
                "count": item.count,
                "noun": noun,
            }
            shift_gaps.append(gap)
            result.missing.append(gap)
        elif not status.done and item.kind == Kind.READ_RUNBOOK:
            unread.append(item.title)
            result.missing.append(_("“%(title)s” not read") % {"title": item.title})
        elif not status.done:
            not_done.append(item.title)
            result.missing.append(_("“%(title)s” not done") % {"title": item.title})
        else:
            result.awaiting_signoff += 1
            signoffs.append(item.title)
            result.missing.append(_("sign-off on “%(title)s”") % {"title": item.title})

    result.statuses = statuses
    result.passed = result.done == result.total
    result.explanation = _explain(
        passed=result.passed,
        onboarding=onboarding,
        shift_gaps=shift_gaps,
        not_done=not_done,
        unread=unread,
        changed=changed,
        signoffs=signoffs,
    )
    return result


def _explain(
    *,
    passed: bool,
    onboarding: Onboarding,
    shift_gaps: list[str],
    not_done: list[str],
    unread: list[str],
    changed: list[str],
    signoffs: list[str],
) -> str:
    if passed:
        if onboarding.state == Onboarding.State.CLEARED:
            return _("Cleared for on-call.")
        return _("Every required item is done: ready to be cleared for on-call.")
    parts = list(shift_gaps)
    if not_done:
        if len(not_done) <= 2:
            parts.append(_("%(titles)s not done") % {"titles": _quoted(not_done)})
        else:
            n = len(not_done)
            parts.append(ngettext("%(n)d item not done", "%(n)d items not done", n) % {"n": n})
    if unread:
        n = len(unread)
        parts.append(ngettext("%(n)d runbook to read", "%(n)d runbooks to read", n) % {"n": n})
    if changed:
        n = len(changed)
        parts.append(
            ngettext("%(n)d runbook changed since read", "%(n)d runbooks changed since read", n)
            % {"n": n}
        )
    if signoffs:
        parts.append(_("sign-off on %(titles)s") % {"titles": _quoted(signoffs)})
    return "; ".join(parts)
