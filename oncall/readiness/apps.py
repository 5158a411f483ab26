from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReadinessConfig(AppConfig):
    name = "oncall.readiness"
    verbose_name = _("Readiness")

    def ready(self) -> None:
        # The runbook page shows "Mark as read (revision N)" to a trainee who
        # has it on their checklist; runbooks cannot import readiness, so
        # readiness registers the card with it.
        from oncall.drills import running
        from oncall.readiness.panel import runbook_panel
        from oncall.readiness.reconcile import (
            is_mentor_for,
            on_drill_graded,
            on_response_marked,
            on_revisions_change,
            on_shift_change,
        )
        from oncall.runbooks import changes, panels
        from oncall.shifts import schedule

        panels.register(runbook_panel)
        # Stored readiness changes in the same transaction as the shifts and
        # runbook revisions it derives from (see reconcile.py).
        schedule.on_shifts_changed(on_shift_change)
        # The trainee's mentor vouches for their shifts as the primary does.
        schedule.also_vouches(is_mentor_for)
        changes.on_revisions_changed(on_revisions_change)
        # A drill graded pass by a game master is what a drill item counts.
        running.on_drill_graded(on_drill_graded)
        # A live page marked handled well by the primary or a lead is what a
        # respond-to-pages item counts.
        running.on_response_marked(on_response_marked)
