from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from oncall.teams.models import Profile


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="teams_create_profile")
def create_profile(sender, instance, created, raw=False, **kwargs):
    # Every user has a profile (time zone, calendar token) however they were
    # created: admin, createsuperuser, seed_demo or a test.
    if created and not raw:
        Profile.objects.get_or_create(user=instance)
