"""Checklists in Japanese: template items carry Japanese text, copied into each
onboarding and shown to people whose language is Japanese (English otherwise,
and English wherever the Japanese text is left empty)."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from oncall.readiness import default_template
from oncall.readiness.describe import render_description
from oncall.readiness.models import Activity, ChecklistTemplate, Kind, TemplateItem
from oncall.readiness.progress import copy_template
from tests.html_elements import elements
from tests.test_readiness_support import make_template, start


def url(name, *args):
    return reverse(f"readiness:{name}", args=args)


def in_japanese(user):
    user.profile.language = "ja"
    user.profile.save(update_fields=["language"])
    return user


@pytest.fixture
def template(team):
    template = make_template(team)
    laptop = template.items.get(title="Laptop and VPN")
    laptop.section_ja = "アクセスとツール"
    laptop.title_ja = "ノートPCとVPN"
    laptop.set_description("Set up the **VPN**.", japanese="**VPN** を設定する。")
    laptop.save()
    return template


def test_it_renders_the_japanese_description_when_saved(template):
    laptop = template.items.get(title="Laptop and VPN")
    assert laptop.description_html == "<p>Set up the <strong>VPN</strong>.</p>"
    assert laptop.description_html_ja == "<p><strong>VPN</strong> を設定する。</p>"


def test_it_shows_japanese_to_a_japanese_reader_and_english_otherwise(template):
    laptop = template.items.get(title="Laptop and VPN")
    escalation = template.items.get(title="Escalation policy")  # no Japanese text
    with translation.override("ja"):
        assert (laptop.shown_section, laptop.shown_title) == ("アクセスとツール", "ノートPCとVPN")
        assert "を設定する" in laptop.shown_description_html
        assert escalation.shown_title == "Escalation policy"
    with translation.override("en"):
        assert (laptop.shown_section, laptop.shown_title) == ("Access & tools", "Laptop and VPN")
        assert "Set up the" in laptop.shown_description_html


def test_an_onboarding_copies_the_japanese_text(template, team, trainee, lead):
    onboarding = start(trainee, team, template, lead)
    laptop = onboarding.items.get(title="Laptop and VPN")
    assert (laptop.section_ja, laptop.title_ja) == ("アクセスとツール", "ノートPCとVPN")
    assert laptop.description_html_ja == "<p><strong>VPN</strong> を設定する。</p>"


def test_a_copied_template_keeps_the_japanese_text(template, team, lead):
    copy = copy_template(template=template, team=team, by=lead, name="Copy")
    laptop = copy.items.get(title="Laptop and VPN")
    assert (laptop.title_ja, laptop.description_ja) == ("ノートPCとVPN", "**VPN** を設定する。")


def test_the_checklist_reads_japanese_for_a_japanese_trainee(
    client_for, template, team, trainee, lead
):
    start(trainee, team, template, lead)
    page = client_for(in_japanese(trainee)).get("/").content.decode()
    assert "ノートPCとVPN" in page
    assert '<h2 id="section-1">アクセスとツール</h2>' in page
    assert "<strong>VPN</strong> を設定する。" in page
    assert "Set up the" not in page
    # The item's own controls name it in Japanese too.
    assert re.search(r'<label class="visually-hidden" for="note-\d+">[^<]*ノートPCとVPN', page)
    # No Japanese text: the English title, not an empty heading.
    assert "Escalation policy" in page


def test_the_lead_reading_english_sees_english(client_for, template, team, trainee, lead):
    onboarding = start(trainee, team, template, lead)
    page = client_for(lead).get(url("onboarding", onboarding.pk)).content.decode()
    assert "Laptop and VPN" in page
    assert "ノートPCとVPN" not in page


def test_a_lead_writes_the_japanese_text_in_the_editor(client_for, template, lead):
    response = client_for(lead).post(
        url("template_item_create", template.pk),
        {
            "section": "Knowledge",
            "title": "Incident roles",
            "title_ja": "インシデントの役割",
            "description": "Who does what.",
            "description_ja": "誰が何をするか。<script>alert(1)</script>",
            "kind": Kind.TASK,
            "count": 1,
            "required": "on",
        },
    )
    assert response.status_code == 302
    added = template.items.get(title="Incident roles")
    assert added.title_ja == "インシデントの役割"
    assert added.description_html_ja.startswith("<p>誰が何をするか。")
    assert "<script" not in added.description_html_ja  # sanitised like the English text
    # Left empty, the section's Japanese name comes from its other items.
    assert added.section_ja == ""  # "Knowledge" has none in this template yet
    page = client_for(lead).get(url("template_item_edit", template.pk, added.pk)).content
    assert "インシデントの役割" in page.decode()


def test_a_new_item_takes_its_sections_japanese_name(client_for, template, lead):
    client_for(lead).post(
        url("template_item_create", template.pk),
        {"section": "Access & tools", "title": "Pager", "kind": Kind.TASK, "count": 1},
    )
    assert template.items.get(title="Pager").section_ja == "アクセスとツール"


def test_a_too_long_japanese_description_is_refused_by_name(client_for, template, lead):
    response = client_for(lead).post(
        url("template_item_create", template.pk),
        {
            "section": "Knowledge",
            "title": "Long",
            "description_ja": "あ" * 4001,
            "kind": Kind.TASK,
            "count": 1,
        },
    )
    assert response.status_code == 422
    assert not template.items.filter(title="Long").exists()


def test_the_template_name_shows_in_japanese(client_for, team, trainee, lead, template):
    template.name_ja = "決済の準備"
    template.save()
    start(trainee, team, template, lead)
    assert "決済の準備" in client_for(in_japanese(trainee)).get("/").content.decode()


def test_the_default_template_carries_japanese_and_live_pages(db):
    default = ChecklistTemplate.objects.get(team=None, name=default_template.NAME)
    default_template.bring_up_to_date(default, TemplateItem, render=render_description)
    default.refresh_from_db()
    assert default.name_ja == default_template.NAME_JA
    items = list(default.items.all())
    assert len(items) == len(default_template.ITEMS)
    assert all(item.title_ja and item.section_ja and item.description_html_ja for item in items)
    live = default.items.get(kind=Kind.RESPOND_TO_PAGES)
    assert (live.title, live.count, live.title_ja) == (
        "Respond to live pages",
        3,
        "実際の呼び出しに対応する",
    )
    # Before the sign-off review, after the practice it builds on.
    titles = [item.title for item in items]
    assert titles.index("Respond to live pages") < titles.index("Readiness review with your lead")
    # Bringing it up to date twice adds nothing.
    assert default_template.bring_up_to_date(default, TemplateItem, render=render_description) == 0


def test_it_adds_the_items_an_older_default_template_lacks(db):
    default = ChecklistTemplate.objects.get(team=None, name=default_template.NAME)
    default.items.filter(kind=Kind.RESPOND_TO_PAGES).delete()
    default.items.update(title_ja="")
    added = default_template.bring_up_to_date(default, TemplateItem, render=render_description)
    assert added == 1
    assert default.items.get(kind=Kind.RESPOND_TO_PAGES).description_html_ja
    # A lead's own Japanese text is kept, never overwritten.
    item = default.items.get(title="Laptop and VPN")
    item.title_ja = "PC"
    item.save()
    default_template.bring_up_to_date(default, TemplateItem, render=render_description)
    item.refresh_from_db()
    assert item.title_ja == "PC"


def test_the_demo_gives_kenji_his_checklist_in_japanese(client_for, db):
    call_command("seed_demo", verbosity=0)
    kenji = get_user_model().objects.get(username="kenji")
    html = client_for(kenji).get("/").content.decode()
    sections = [e.text.strip() for e in elements(html, "section", class_="checklist-section")]
    headings = [
        e.text.strip() for e in elements(html, "h2") if e.attrs.get("id", "").startswith("section-")
    ]
    assert headings == ["アクセスとツール", "知識", "実践", "承認"]
    titles = [e.text.strip() for e in elements(html, "h3", class_="item__title")]
    assert any(t.startswith("ノートPCとVPN") for t in titles), titles
    assert any(t.startswith("実際の呼び出しに対応する") for t in titles), titles
    assert sections  # the checklist is there at all


def test_the_activity_reads_as_one_sentence_in_each_language(template, team, trainee, lead):
    onboarding = start(trainee, team, template, lead)
    laptop = onboarding.items.get(title="Laptop and VPN")
    lead.first_name, lead.last_name = "Kenji", "Sato"
    lead.save()
    activity = onboarding.log(Activity.Verb.TICK, actor=lead, item=laptop)
    with translation.override("en"):
        assert activity.sentence() == "Kenji Sato marked “Laptop and VPN” done."
        started = onboarding.activities.get(verb=Activity.Verb.START)
        assert started.sentence().endswith("started the onboarding.")
    with translation.override("ja"):
        # A particle after the name, Japanese quotes, the item's Japanese title.
        assert activity.sentence() == "Kenji Satoさんが「ノートPCとVPN」を完了にしました。"
