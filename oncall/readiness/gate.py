"""The readiness gate: the one function that decides whether an onboarding is ready.

Everything that shows or acts on readiness (my onboarding, the leads'
dashboard, the clear action, the periodic state refresh) asks ``evaluate``.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from oncall.readiness.models import ItemProgress, Kind, Onboarding, progress_percent
from oncall.readiness.practice import drill_record, pages_handled
from oncall.shifts.models import ShadowShift

# Which shadow-shift kind a checklist item counts.
SHIFT_KIND_OF_ITEM = {
    Kind.SHADOW_SHIFT: ShadowShift.Kind.SHADOW,
    Kind.REVERSE_SHADOW_SHIFT: ShadowShift.Kind.REVERSE_SHADOW,
}


class ItemFacts(NamedTuple):
    """What the gate reads of one checklist item.

    The leads' dashboard loads these straight from the database as tuples
    (8,000 of them for 200 onboardings), without building model instances.
    """

    pk: int
    kind: str
    title: str
    required: bool
    needs_signoff: bool
    count: int
    order: int
    ticked: bool  # done_at is set
    signed: bool  # signed_off_at is set
    revision_read_id: int | None
    runbook_id: int | None
    current_revision_id: int | None  # the linked runbook's, None without a runbook


# The columns of ItemProgress that make ItemFacts, in order; ``facts_by_onboarding``
# annotates the two booleans (cheaper than parsing 16,000 timestamps).
FACT_COLUMNS = (
    "id",
    "kind",
    "title",
    "required",
    "needs_signoff",
    "count",
    "order",
    "is_ticked",
    "is_signed",
    "revision_read_id",
    "runbook_id",
    "runbook__current_revision_id",
)


def facts_by_onboarding(items: QuerySet) -> dict[int, list[ItemFacts]]:
    """The facts of ``items``, grouped by onboarding, in one query.

    Read through a plain cursor: Django's per-value converters (32,000
    booleans for a 200-onboarding dashboard) cost more than the query itself,
    and the gate only needs truthiness (SQLite hands back 0 and 1).
    """
    query = items.annotate(
        is_ticked=ExpressionWrapper(Q(done_at__isnull=False), output_field=BooleanField()),
        is_signed=ExpressionWrapper(Q(signed_off_at__isnull=False), output_field=BooleanField()),
    ).values_list("onboarding_id", *FACT_COLUMNS)
    try:
        sql, params = query.query.sql_with_params()
    except EmptyResultSet:  # filtered by an empty list: a team with no onboardings
        return {}
    with connections[query.db].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    grouped: dict[int, list[ItemFacts]] = defaultdict(list)
    make = ItemFacts._make
    for row in rows:
        grouped[row[0]].append(make(row[1:]))
    return grouped


def facts_of(item: ItemProgress) -> ItemFacts:
    """The facts of an item loaded as a model (with ``runbook`` selected)."""
    runbook = item.runbook if item.runbook_id is not None else None
    return ItemFacts(
        item.pk,
        item.kind,
        item.title,
        item.required,
        item.needs_signoff,
        item.count,
        item.order,
        item.done_at is not None,
        item.signed_off_at is not None,
        item.revision_read_id,
        item.runbook_id,
        runbook.current_revision_id if runbook is not None else None,
    )


@dataclass(slots=True)
class ItemStatus:
    """Where one checklist item stands, as the gate sees it."""

    item: ItemProgress | ItemFacts
    done: bool  # the trainee's part is done (ticked, read at the current revision, shifts met)
    complete: bool  # done, and signed off where a sign-off is needed
    changed_since_read: bool = False
    shifts_done: int = 0  # confirmed shifts, for shadow and reverse-shadow items
    drills_done: int = 0  # drills passed, for drill items
    pages_done: int = 0  # live pages handled well, for respond-to-pages items

    @property
    def awaiting_signoff(self) -> bool:
        return self.done and not self.complete

    @property
    def needs_trainee(self) -> bool:
        """The trainee has something to do here (as opposed to waiting for a lead)."""
        return not self.done


@dataclass(slots=True)
class Gap:
    """One required item that holds the gate, in words once asked."""

    what: str  # "shifts", "drills", "pages", "changed", "unread", "not_done", "signoff"
    facts: ItemFacts
    shifts_done: int = 0  # shifts confirmed, drills passed for "drills", pages for "pages"


@dataclass
class GateResult:
    passed: bool
    done: int  # required items complete
    total: int  # required items
    shadow_done: int = 0
    shadow_required: int = 0
    reverse_done: int = 0
    reverse_required: int = 0
    changed_since_read: int = 0
    awaiting_signoff: int = 0
    cleared: bool = False
    gaps: list[Gap] = field(default_factory=list)
    statuses: dict[int, ItemStatus] = field(default_factory=dict)

    @property
    def left(self) -> int:
        """Required items not complete yet."""
        return self.total - self.done

    @property
    def percent(self) -> int:
        return progress_percent(self.done, self.total)

    def status(self, item: ItemProgress) -> ItemStatus:
        return self.statuses[item.pk]

    def next_steps(self, limit: int = 3) -> list[ItemStatus]:
        """The next things the trainee can do: required first, in checklist order."""
        open_ = [s for s in self.statuses.values() if s.needs_trainee]
        open_.sort(key=lambda s: (not s.item.required, s.item.order, s.item.pk))
        return open_[:limit]

    # The words are built only when someone reads them: a dashboard of 200
    # rows need not translate 200 sentences it does not show.

    @cached_property
    def missing(self) -> list[str]:
        """Each gap in a few words: "2 of 3 shadow shifts", "sign-off on “X”"."""
        return [_gap_words(gap) for gap in self.gaps]

    @cached_property
    def explanation(self) -> str:
        """All gaps in one sentence, grouped: "2 of 3 shadow shifts; 1 runbook changed since read"."""
        if self.passed:
            if self.cleared:
                return _("Cleared for on-call.")
            return _("Every required item is done: ready to be cleared for on-call.")
        by_what: dict[str, list[Gap]] = {}
        for gap in self.gaps:
            by_what.setdefault(gap.what, []).append(gap)
        counted = by_what.get("shifts", []) + by_what.get("drills", []) + by_what.get("pages", [])
        parts = [_gap_words(gap) for gap in counted]
        if not_done := by_what.get("not_done"):
            n = len(not_done)
            if n <= 2:
                parts.append(
                    _("%(titles)s not done") % {"titles": _quoted(g.facts.title for g in not_done)}
                )
            else:
                parts.append(ngettext("%(n)d item not done", "%(n)d items not done", n) % {"n": n})
        if unread := by_what.get("unread"):
            n = len(unread)
            parts.append(ngettext("%(n)d runbook to read", "%(n)d runbooks to read", n) % {"n": n})
        if changed := by_what.get("changed"):
            n = len(changed)
            parts.append(
                ngettext("%(n)d runbook changed since read", "%(n)d runbooks changed since read", n)
                % {"n": n}
            )
        if signoffs := by_what.get("signoff"):
            parts.append(
                _("sign-off on %(titles)s") % {"titles": _quoted(g.facts.title for g in signoffs)}
            )
        # Translators: separates the gaps of the readiness explanation.
        return pgettext("gaps", "; ").join(parts)


def _quoted(titles: Iterable[str]) -> str:
    # Translators: a title in quotes, then the separator of a list of titles.
    return pgettext("titles", ", ").join(
        pgettext("title", "“%(title)s”") % {"title": t} for t in titles
    )


def _gap_words(gap: Gap) -> str:
    title = gap.facts.title
    # What is left, then how far along: "0 of 2 shifts" read as nothing to do.
    # Whole sentences per kind: a noun glued into a count reads wrong in Japanese.
    if gap.what in ("shifts", "drills", "pages"):
        count, done = gap.facts.count, gap.shifts_done
        left = max(count - done, 0)
        if gap.what == "drills":
            words = ngettext(
                "%(left)d more drill to pass (%(done)d of %(count)d)",
                "%(left)d more drills to pass (%(done)d of %(count)d)",
                left,
            )
        elif gap.what == "pages":
            words = ngettext(
                "%(left)d more live page handled well (%(done)d of %(count)d)",
                "%(left)d more live pages handled well (%(done)d of %(count)d)",
                left,
            )
        elif gap.facts.kind == Kind.SHADOW_SHIFT:
            words = ngettext(
                "%(left)d more shadow shift (%(done)d of %(count)d)",
                "%(left)d more shadow shifts (%(done)d of %(count)d)",
                left,
            )
        else:
            words = ngettext(
                "%(left)d more reverse-shadow shift (%(done)d of %(count)d)",
                "%(left)d more reverse-shadow shifts (%(done)d of %(count)d)",
                left,
            )
        return words % {"left": left, "done": done, "count": count}
    if gap.what == "changed":
        return _("“%(title)s” changed since read") % {"title": title}
    if gap.what == "unread":
        return _("“%(title)s” not read") % {"title": title}
    if gap.what == "signoff":
        return _("sign-off on “%(title)s”") % {"title": title}
    return _("“%(title)s” not done") % {"title": title}


def done_shift_counts(onboarding: Onboarding) -> dict[str, int]:
    """Confirmed (done) shadow shifts of each kind for the onboarding's engineer in its team (one query)."""
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


def evaluate(
    onboarding: Onboarding,
    *,
    items: Iterable[ItemProgress] | None = None,
    shift_counts: dict[str, int] | None = None,
    drills_passed: int | None = None,
    pages_handled_well: int | None = None,
    facts: Iterable[ItemFacts] | None = None,
    with_statuses: bool = True,
) -> GateResult:
    """Decide whether an onboarding is ready, and say plainly what is missing.

    1. Take the onboarding's items (pass them in, with ``runbook`` selected,
       or pass their ``facts`` straight from the database) and its done
       shadow-shift counts per kind and the engineer's drills passed in the
       team and live pages handled well there (``practice``; one query each
       when not given, the drills only when the checklist has a drill item,
       the pages only when it has a respond-to-pages item).
    2. Per item: a ``read_runbook`` item is done only when the revision read
       is the runbook's current one (read earlier = "changed since read"); a
       shadow or reverse-shadow item is done when the engineer's done shifts
       of that kind in the team reach its count; a drill item is done when
       the drills passed reach its count (graded pass by someone other than
       the engineer; a tick counts for nothing); a respond-to-pages item is
       done when the engineer's live pages in the team marked handled well
       by the shift's primary or a lead (never by the engineer) reach its
       count, a tick counting for nothing there too; any other item is done
       when ticked. An item that needs a sign-off is complete only once signed off.
    3. Progress is one figure: required items complete over required items
       (``progress_percent``), the same wherever it is shown.
    4. The gate passes when every required item is complete. Each required
       item that is not is a gap; ``missing`` and ``explanation`` word them.

    ``with_statuses=False`` skips the per-item statuses (a dashboard row needs
    only the totals).
    """
    if facts is None:
        if items is None:
            items = onboarding.items.select_related("runbook")
        pairs = [(item, facts_of(item)) for item in items]
    else:
        pairs = [(f, f) for f in facts]
    if shift_counts is None:
        shift_counts = done_shift_counts(onboarding)

    result = GateResult(
        passed=False,
        done=0,
        total=0,
        cleared=onboarding.state == Onboarding.State.CLEARED,
    )
    statuses = result.statuses
    gaps = result.gaps

    # Plain strings: this loop runs 8,000 times for a dashboard.
    read_kind, shadow_kind, reverse_kind = (
        str(Kind.READ_RUNBOOK),
        str(Kind.SHADOW_SHIFT),
        str(Kind.REVERSE_SHADOW_SHIFT),
    )
    shift_kinds = (shadow_kind, reverse_kind)
    drill_kind = str(Kind.DRILL)
    pages_kind = str(Kind.RESPOND_TO_PAGES)
    shifts_of_kind = {
        str(item_kind): shift_counts.get(shift_kind, 0)
        for item_kind, shift_kind in SHIFT_KIND_OF_ITEM.items()
    }
    for item, f in pairs:
        kind = f.kind
        changed = False
        shifts = drills = pages = 0
        if kind in shift_kinds:
            shifts = shifts_of_kind[kind]
            done = shifts >= f.count
        elif kind == drill_kind:
            if drills_passed is None:
                drills_passed = drill_record(onboarding.team_id, onboarding.engineer_id).passed
            drills = drills_passed
            done = drills >= f.count
        elif kind == pages_kind:
            if pages_handled_well is None:
                pages_handled_well = pages_handled(onboarding.team_id, onboarding.engineer_id)
            pages = pages_handled_well
            done = pages >= f.count
        elif kind == read_kind and f.runbook_id is not None:
            current = f.current_revision_id
            if current is None:
                # A runbook with no revision yet: ticking is all one can do.
                done = bool(f.ticked)
            else:
                done = f.revision_read_id == current
                changed = f.revision_read_id is not None and not done
        else:
            done = bool(f.ticked)
        complete = done and bool(f.signed or not f.needs_signoff)
        if with_statuses:
            statuses[f.pk] = ItemStatus(
                item=item,
                done=done,
                complete=complete,
                changed_since_read=changed,
                shifts_done=shifts,
                drills_done=drills,
                pages_done=pages,
            )

        if not f.required:
            continue
        result.total += 1
        if kind == shadow_kind:
            result.shadow_done += min(shifts, f.count)
            result.shadow_required += f.count
        elif kind == reverse_kind:
            result.reverse_done += min(shifts, f.count)
            result.reverse_required += f.count
        if complete:
            result.done += 1
        elif changed:
            result.changed_since_read += 1
            gaps.append(Gap("changed", f))
        elif not done and kind in shift_kinds:
            gaps.append(Gap("shifts", f, shifts_done=shifts))
        elif not done and kind == drill_kind:
            gaps.append(Gap("drills", f, shifts_done=drills))
        elif not done and kind == pages_kind:
            gaps.append(Gap("pages", f, shifts_done=pages))
        elif not done and kind == read_kind:
            gaps.append(Gap("unread", f))
        elif not done:
            gaps.append(Gap("not_done", f))
        else:
            result.awaiting_signoff += 1
            gaps.append(Gap("signoff", f))

    result.passed = result.done == result.total
    return result
