"""Label values people read on alert cards: known severities in the reader's language."""

from django.utils import translation

from oncall.alerts.templatetags.alert_words import severity_label


def test_known_severities_are_translated_and_others_kept_as_sent():
    with translation.override("ja"):
        assert severity_label("critical") == "重大"
        assert severity_label("Warning") == "警告"
        assert severity_label("page-now") == "page-now"
    with translation.override("en"):
        assert severity_label("critical") == "critical"
