"""Bring the shipped default template up to this release: its Japanese name and
item texts (where a lead left them empty) and the "Respond to live pages" item."""

from django.db import migrations

from oncall.readiness import default_template
from oncall.readiness.describe import render_description


def bring_up_to_date(apps, schema_editor):
    ChecklistTemplate = apps.get_model("readiness", "ChecklistTemplate")
    TemplateItem = apps.get_model("readiness", "TemplateItem")
    for template in ChecklistTemplate.objects.filter(team=None, name=default_template.NAME):
        default_template.bring_up_to_date(template, TemplateItem, render=render_description)


class Migration(migrations.Migration):
    dependencies = [("readiness", "0006_japanese_text_and_respond_to_pages")]

    operations = [migrations.RunPython(bring_up_to_date, migrations.RunPython.noop)]
