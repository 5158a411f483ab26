"""The checklist every install starts with: "Service on-call readiness".

Drawn from Google's SRE on-call learning checklist and PagerDuty's on-call
preparation list. Shipped as data (migration 0002 loads it); leads copy and
adapt it in the app.
"""

NAME = "Service on-call readiness"
DESCRIPTION = (
    "Everything a new engineer does before carrying the pager for a service: "
    "access and tools that work, the knowledge to act, practice beside an "
    "experienced primary, and a lead's sign-off."
)

# section, title, description, kind, required, needs_signoff, count
ITEMS = [
    (
        "Access & tools",
        "Laptop and VPN",
        "Your laptop is set up and the VPN connects from home and from your phone's hotspot.",
        "access_check",
        True,
        False,
        1,
    ),
    (
        "Access & tools",
        "Pager app installed and a test page received",
        "Install the paging app on your phone, turn on critical alerts, and ask your "
        "lead to send a **test page**. Tick this when it woke you up.",
        "access_check",
        True,
        False,
        1,
    ),
    (
        "Access & tools",
        "Dashboard and log access",
        "Open the service dashboards and search the logs for the last hour.",
        "access_check",
        True,
        False,
        1,
    ),
    (
        "Access & tools",
        "Production credentials",
        "You can reach production through the break-glass path. A lead checks it with you.",
        "access_check",
        True,
        True,
        1,
    ),
    (
        "Knowledge",
        "The team's critical runbooks",
        "Read the runbooks for the alerts that page most often. Leads can link each "
        "runbook as its own item so reading is tied to a revision.",
        "task",
        True,
        False,
        1,
    ),
    (
        "Knowledge",
        "Escalation policy",
        "Who to call when you are stuck, in what order, and how fast. Walk through it with your lead.",
        "task",
        True,
        True,
        1,
    ),
    (
        "Knowledge",
        "Incident roles and communication",
        "Incident commander, communications lead, scribe: what each does, where the "
        "incident channel is, and how to post a status update.",
        "task",
        True,
        False,
        1,
    ),
    (
        "Practice",
        "Shadow shifts",
        "Follow an experienced primary through their shift: see every page, ask every question.",
        "shadow_shift",
        True,
        False,
        3,
    ),
    (
        "Practice",
        "Reverse-shadow shifts",
        "You carry the pager; the primary watches and steps in only if needed.",
        "reverse_shadow_shift",
        True,
        False,
        2,
    ),
    (
        "Practice",
        "Wheel of Misfortune drill",
        "Work a past incident as a role-play with the team, out loud, from the first page to the all-clear.",
        "drill",
        True,
        True,
        1,
    ),
    (
        "Sign-off",
        "Readiness review with your lead",
        "A short conversation: what you feel ready for, what still worries you.",
        "task",
        True,
        True,
        1,
    ),
]
