"""Load the default checklist template, "Service on-call readiness"."""

from django.db import migrations

from oncall.readiness import default_template


def load(apps, schema_editor):
    ChecklistTemplate = apps.get_model("readiness", "ChecklistTemplate")
    TemplateItem = apps.get_model("readiness", "TemplateItem")
    if ChecklistTemplate.objects.filter(team=None, name=default_template.NAME).exists():
        return
    template = ChecklistTemplate.objects.create(
        name=default_template.NAME, description=default_template.DESCRIPTION
    )
    TemplateItem.objects.bulk_create(
        TemplateItem(
            template=template,
            section=section,
            title=title,
            description=description,
            kind=kind,
            required=required,
            needs_signoff=needs_signoff,
            count=count,
            order=(i + 1) * 10,
        )
        for i, (section, title, description, kind, required, needs_signoff, count) in enumerate(
            default_template.ITEMS
        )
    )


def unload(apps, schema_editor):
    ChecklistTemplate = apps.get_model("readiness", "ChecklistTemplate")
    ChecklistTemplate.objects.filter(
        team=None, name=default_template.NAME, onboardings=None
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("readiness", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
