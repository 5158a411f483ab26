from django.contrib.auth import get_user_model
from django.core.management import call_command

from oncall.teams.models import Membership, Team


def test_seed_demo_is_idempotent(db):
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)
    User = get_user_model()
    assert set(User.objects.values_list("username", flat=True)) >= {
        "lead",
        "primary",
        "trainee",
        "admin",
    }
    assert Team.objects.get(slug="payments").time_zone == "Asia/Tokyo"
    assert Team.objects.get(slug="platform").time_zone == "Europe/London"
    assert Membership.objects.get(user__username="lead", team__slug="payments").is_lead
    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert admin.check_password("oncall-demo")
    assert User.objects.get(username="trainee").email == "trainee@example.com"


def test_seed_demo_does_not_touch_existing_users(db, django_user_model):
    django_user_model.objects.create_user("trainee", password="their-own-password")
    call_command("seed_demo", verbosity=0)
    assert django_user_model.objects.get(username="trainee").check_password("their-own-password")


def test_seed_demo_adds_kenji_who_reads_japanese_beside_users_who_follow_the_browser(db):
    call_command("seed_demo", verbosity=0)
    User = get_user_model()
    kenji = User.objects.get(username="kenji")
    assert kenji.check_password("oncall-demo")
    assert kenji.profile.language == "ja"
    assert Membership.objects.get(user=kenji, team__slug="payments").role == "member"
    assert kenji.onboardings.filter(team__slug="payments").exists()
    for name in ("lead", "primary", "trainee", "admin"):
        assert User.objects.get(username=name).profile.language == ""


def test_seed_demo_records_a_scenario_and_leaves_a_passed_and_a_scheduled_drill(db):
    from oncall.drills.demo import SCENARIO_TITLE
    from oncall.drills.models import Drill, Scenario
    from oncall.readiness import gate
    from oncall.readiness.models import Kind, Onboarding

    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)
    scenario = Scenario.objects.get(title=SCENARIO_TITLE)
    assert scenario.team.slug == "payments"
    assert scenario.source == Scenario.Source.RECORDED
    fired = list(scenario.steps.filter(kind="fired").values_list("alertname", "offset"))
    assert fired == [
        ("PaymentsApiHighErrorRate", 0),
        ("PaymentsApiLatencyHigh", 180),
        ("PaymentsDbConnectionsSaturated", 360),
    ]
    drills = Drill.objects.filter(trainee__username="trainee")
    assert sorted(drills.values_list("state", "grade", "graded_by__username")) == [
        ("graded", "pass", "primary"),
        ("scheduled", "", None),
    ]
    onboarding = Onboarding.objects.get(engineer__username="trainee")
    item = onboarding.items.get(kind=Kind.DRILL)
    status = gate.evaluate(onboarding).status(item)
    assert (status.drills_done, status.done) == (1, True)
    assert item.done_at is None  # counted, not ticked
    mika = Onboarding.objects.get(engineer__username="mika")
    assert mika.state == Onboarding.State.READY
