"""Demo data for teams: the people and teams every other app's demo builds on."""

from django.contrib.auth import get_user_model

from oncall.teams.models import Membership, Team

DEMO_PASSWORD = "oncall-demo"  # noqa: S105 - printed by `make run`, for a laptop demo only

DEMO_USERS = [
    # username, first name, staff, team memberships, language ("" = the browser's)
    ("lead", "Lena", False, [("payments", Membership.Role.LEAD)], ""),
    ("primary", "Priya", False, [("payments", Membership.Role.MEMBER)], ""),
    ("trainee", "Taro", False, [("payments", Membership.Role.MEMBER)], ""),
    ("admin", "Ada", True, [], ""),
    # A second trainee who reads Japanese, to try both languages side by side.
    ("kenji", "Kenji", False, [("payments", Membership.Role.MEMBER)], "ja"),
]
DEMO_TEAMS = [("payments", "Payments", "Asia/Tokyo"), ("platform", "Platform", "Europe/London")]
# Who to page when no runbook answers: shown first on such an alert's page.
DEMO_ESCALATION_NOTES = {
    "payments": (
        "1. Page **#payments-oncall** in Slack with the alert's name and what you see.\n"
        "2. No answer in 10 minutes: call the engineering manager on duty "
        "(the number is pinned in #payments-oncall).\n"
        "3. Money is moving wrongly (double charges, missing payouts): also page the "
        "incident commander with `/incident declare`."
    ),
    "platform": "Page **#platform-oncall**; for a cluster-wide outage, `/incident declare`.",
}


def seed(out) -> None:
    User = get_user_model()
    teams = {}
    for slug, name, tz in DEMO_TEAMS:
        teams[slug], created = Team.objects.get_or_create(
            slug=slug, defaults={"name": name, "time_zone": tz}
        )
        if created:
            out(f"team {slug} ({tz})")
        if not teams[slug].escalation_note:  # a lead's own note is kept
            teams[slug].escalation_note = DEMO_ESCALATION_NOTES[slug]
            teams[slug].save(update_fields=["escalation_note"])
    for username, first_name, staff, memberships, language in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(
                username=username,
                email=f"{username}@example.com",
                password=DEMO_PASSWORD,
                first_name=first_name,
                is_staff=staff,
                is_superuser=staff,
            )
            user.profile.time_zone = "Asia/Tokyo" if memberships else "UTC"
            user.profile.language = language
            user.profile.save(update_fields=["time_zone", "language"])
            out(f"user {username}")
        for slug, role in memberships:
            Membership.objects.get_or_create(user=user, team=teams[slug], defaults={"role": role})
