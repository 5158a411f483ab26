"""The checklist every install starts with: "Service on-call readiness".

Drawn from Google's SRE on-call learning checklist and PagerDuty's on-call
preparation list. Shipped as data (migration 0002 loads it); leads copy and
adapt it in the app. Each item carries Japanese text too (``JAPANESE``), so a
team in Tokyo onboards in Japanese; ``bring_up_to_date`` adds what a template
loaded by an older release lacks.
"""

from collections.abc import Callable

NAME = "Service on-call readiness"
NAME_JA = "サービスのオンコール準備"
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
        "Practice",
        "Respond to live pages",
        "Take real pages during reverse-shadow shifts: acknowledge, open the runbook, "
        "say what you think is wrong. The primary marks each response they saw handled well.",
        "respond_to_pages",
        True,
        False,
        3,
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

SECTIONS_JA = {
    "Access & tools": "アクセスとツール",
    "Knowledge": "知識",
    "Practice": "実践",
    "Sign-off": "承認",
}

# English title -> (title, description) in Japanese.
JAPANESE = {
    "Laptop and VPN": (
        "ノートPCとVPN",
        "ノートPCの設定が済み、自宅からもスマートフォンのテザリングからもVPNに接続できる。",
    ),
    "Pager app installed and a test page received": (
        "呼び出しアプリを入れ、テスト呼び出しを受けた",
        "スマートフォンに呼び出しアプリを入れて重要な通知をオンにし、リードに"
        "**テスト呼び出し**を送ってもらいます。それで目が覚めたらチェックしてください。",
    ),
    "Dashboard and log access": (
        "ダッシュボードとログへのアクセス",
        "サービスのダッシュボードを開き、直近1時間のログを検索する。",
    ),
    "Production credentials": (
        "本番環境の認証情報",
        "緊急用の経路で本番環境に入れる。リードが一緒に確認します。",
    ),
    "The team's critical runbooks": (
        "チームの重要なランブック",
        "よく呼び出されるアラートのランブックを読みます。リードは各ランブックを"
        "個別の項目として結び付けられ、読んだことが版と結び付きます。",
    ),
    "Escalation policy": (
        "エスカレーションの方針",
        "行き詰まったときに誰に、どの順で、どれだけ早く連絡するか。リードと一緒に確認します。",
    ),
    "Incident roles and communication": (
        "インシデントの役割と連絡",
        "インシデントコマンダー、連絡担当、記録係それぞれの役割、インシデント用"
        "チャンネルの場所、状況報告の出し方。",
    ),
    "Shadow shifts": (
        "シャドーシフト",
        "経験のあるプライマリーのシフトに付き添い、すべての呼び出しを見て、すべて質問します。",
    ),
    "Reverse-shadow shifts": (
        "リバースシャドーシフト",
        "あなたが呼び出しを受け、プライマリーは見守り、必要なときだけ手を貸します。",
    ),
    "Respond to live pages": (
        "実際の呼び出しに対応する",
        "リバースシャドーシフト中に本物の呼び出しを受けます。応答し、ランブックを開き、"
        "何が起きていると思うかを書きます。プライマリーが見て、うまく対応できたものに印を付けます。",
    ),
    "Wheel of Misfortune drill": (
        "Wheel of Misfortune 訓練",
        "過去のインシデントをチームでロールプレイし、最初の呼び出しから収束まで声に出して対応します。",
    ),
    "Readiness review with your lead": (
        "リードとの準備確認",
        "短い面談です。何に自信があり、何がまだ不安かを話します。",
    ),
}


def japanese_for(section: str, title: str) -> tuple[str, str, str]:
    """(section, title, description) in Japanese for an item of this template ("" when none)."""
    title_ja, description_ja = JAPANESE.get(title, ("", ""))
    return SECTIONS_JA.get(section, ""), title_ja, description_ja


def bring_up_to_date(template, item_model, *, render: Callable[[str], str]) -> int:
    """Give the shipped template what this release ships: its Japanese name,
    the Japanese text of its items where a lead left it empty, and the items it
    lacks (matched by English title). Returns how many items were added.

    Takes the model class so a data migration can pass its historical model;
    ``render`` turns a description into its HTML.
    """
    if not template.name_ja:
        template.name_ja = NAME_JA
        template.save(update_fields=["name_ja"])
    items = {item.title: item for item in item_model.objects.filter(template=template)}
    for item in items.values():
        section_ja, title_ja, description_ja = japanese_for(item.section, item.title)
        changed = []
        if item.description and not item.description_html:
            item.description_html = render(item.description)
            changed.append("description_html")
        if section_ja and not item.section_ja:
            item.section_ja = section_ja
            changed.append("section_ja")
        if title_ja and not item.title_ja:
            item.title_ja = title_ja
            changed.append("title_ja")
        if description_ja and not item.description_ja:
            item.description_ja = description_ja
            item.description_html_ja = render(description_ja)
            changed += ["description_ja", "description_html_ja"]
        if changed:
            item.save(update_fields=changed)
    added = 0
    orders = {title: (i + 1) * 10 for i, (_, title, *rest) in enumerate(ITEMS)}
    for section, title, description, kind, required, needs_signoff, count in ITEMS:
        if title in items:
            continue
        section_ja, title_ja, description_ja = japanese_for(section, title)
        item_model.objects.create(
            template=template,
            section=section,
            title=title,
            description=description,
            description_html=render(description),
            section_ja=section_ja,
            title_ja=title_ja,
            description_ja=description_ja,
            description_html_ja=render(description_ja),
            kind=kind,
            required=required,
            needs_signoff=needs_signoff,
            count=count,
            # Between its neighbours of this release (orders step by 10).
            order=orders[title] - 5,
        )
        added += 1
    return added
