import logging
import time
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from mozilla_django_oidc.views import OIDCAuthenticationRequestView

from oncall.accounts import oidc
from oncall.accounts.forms import AddMemberForm, SignInForm
from oncall.accounts.groups import groups_for_team
from oncall.accounts.landing import landing_url, safe_next, waiting_alert
from oncall.accounts.middleware import keep_signed_in
from oncall.accounts.models import MembershipChange
from oncall.core.addresses import client_address
from oncall.teams import ratelimit
from oncall.teams.access import teams_led_by
from oncall.teams.forms import PK_MAX, PK_MIN, TeamSettingsForm
from oncall.teams.models import Membership, Team

logger = logging.getLogger(__name__)

# Starting single sign-on stores a session: at most this many starts a
# minute from one address (or IPv6 /64), enough for an office behind one NAT.
SSO_START_LIMIT = ratelimit.Limit("sso-start", count=20, period=timedelta(minutes=1))

SSO_NEXT = "oidc_login_next"
SSO_KEEP = "sso_keep_signed_in"
ID_TOKEN = "oidc_id_token"  # noqa: S105 - a session key, not a secret
PROVIDER_LOGOUT = "provider_logout_url"


def _sso_state() -> tuple[bool, str]:
    """(configured, the reason it is unavailable or "")."""
    if not oidc.is_configured():
        return False, ""
    try:
        oidc.discover()
    except oidc.ProviderUnavailable as e:
        return True, str(e)
    return True, ""


def _allow_form_to_provider(response: HttpResponse) -> HttpResponse:
    """Let the sign-in form's redirect reach the provider: browsers hold a
    form's redirects to the page's CSP form-action, which is 'self' elsewhere."""
    try:
        endpoint = urlsplit(oidc.discover()["authorization_endpoint"])
    except oidc.ProviderUnavailable:
        return response
    policy = dict(settings.SECURE_CSP)
    policy["form-action"] = [
        *policy.get("form-action", []),
        f"{endpoint.scheme}://{endpoint.netloc}",
    ]
    response._csp_config = policy
    return response


def _sso_start_url(next_url: str, keep: bool = True) -> str:
    query = {"next": next_url} if next_url else {}
    if not keep:
        query["keep"] = "0"
    return reverse("sso_start") + (f"?{urlencode(query)}" if query else "")


@login_not_required
@never_cache
@csrf_protect
@sensitive_post_parameters("password")
def sign_in(request: HttpRequest) -> HttpResponse:
    """The sign-in page: the identity provider's button, and the password form
    when LOCAL_LOGIN allows it (or for break-glass staff).

    With SSO as the only way in and the provider answering, a visit goes
    straight to the provider: an alert link costs one IdP sign-in, no page here.
    """
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.user.is_authenticated and request.method == "GET":
        return redirect(landing_url(request, next_url))
    sso_configured, sso_down = _sso_state()
    break_glass = (request.POST.get("break_glass") or request.GET.get("break_glass")) == "1"
    # A refused POST shows the form again, with the reason next to it.
    password_allowed = settings.LOCAL_LOGIN or break_glass or request.method == "POST"
    if (
        request.method == "GET"
        and sso_configured
        and not sso_down
        and not password_allowed
        and request.GET.get("choose") != "1"
    ):
        return redirect(_sso_start_url(next_url))

    status = 200
    form = SignInForm(request, data=request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = form.get_user()
        auth.login(request, user)
        keep_signed_in(request, form.cleaned_data["keep"])
        return redirect(landing_url(request, next_url))
    if form.has_error(NON_FIELD_ERRORS, "throttled"):
        status = 429
    response = render(
        request,
        "registration/login.html",
        {
            "form": form,
            "next": next_url,
            "alertname": waiting_alert(next_url),
            "sso_configured": sso_configured,
            "sso_down": sso_down,
            "provider_name": settings.OIDC_PROVIDER_NAME,
            "password_allowed": password_allowed,
            "break_glass": break_glass,
        },
        status=status,
    )
    if sso_configured and not sso_down:
        _allow_form_to_provider(response)
    return response


@login_not_required
@never_cache
def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin signs in through the one sign-in page (and its throttling).

    The admin sends here whoever it does not let in. Someone signed in who is
    not staff would be sent on to sign in again and come straight back (the
    sign-in page forwards a signed-in person to ``next``), so they get a page
    saying the admin is for staff instead.
    """
    next_url = safe_next(request, request.GET.get("next")) or reverse("admin:index")
    if request.user.is_authenticated:
        if request.user.is_active and request.user.is_staff:
            return redirect(next_url)
        return render(request, "accounts/admin_for_staff.html", status=403)
    return redirect(f"{reverse('login')}?{urlencode({'next': next_url})}")


class SSOStartView(OIDCAuthenticationRequestView):
    """Send the browser to the provider, with state, nonce and a PKCE challenge
    kept in the session (mozilla-django-oidc does that part)."""

    get_settings = staticmethod(oidc._setting)

    def __init__(self, **kwargs) -> None:
        # The provider is asked in get(), not when the view is built.
        super(OIDCAuthenticationRequestView, self).__init__(**kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not oidc.is_configured():
            raise Http404("Single sign-on is not configured")
        next_url = safe_next(request, request.GET.get("next"))
        # Each start stores a session (for 10 minutes while nobody is signed in
        # to it, see sessions.py): one address may not start sign-ins without end.
        decision = ratelimit.hit(SSO_START_LIMIT, client_address(request))
        if not decision.allowed:
            response = _refused(
                request,
                _("Too many sign-ins were started from your network just now.")
                + " "
                + decision.message(),
                status=429,
                next_url=next_url,
            )
            response["Retry-After"] = str(decision.retry_after)
            return response
        try:
            self.OIDC_OP_AUTH_ENDPOINT = oidc.discover()["authorization_endpoint"]
        except oidc.ProviderUnavailable:
            query = urlencode({"next": next_url, "choose": "1"})
            return redirect(f"{reverse('login')}?{query}")
        self.OIDC_RP_CLIENT_ID = settings.OIDC_CLIENT_ID
        response = super().get(request)
        request.session[SSO_NEXT] = next_url
        request.session[SSO_KEEP] = request.GET.get("keep") != "0"
        return response


sso_start = login_not_required(never_cache(SSOStartView.as_view()))


def _refused(
    request: HttpRequest,
    message: str,
    *,
    status: int = 400,
    identity: tuple[str, str] | None = None,
    next_url: str | None = None,
) -> HttpResponse:
    """The page saying why single sign-on did not sign this person in.

    With ``identity`` (issuer, subject) it also shows what an admin needs to
    link that identity to an account by hand.
    """
    if next_url is None:
        next_url = request.session.get(SSO_NEXT) or ""
    return render(
        request,
        "accounts/sso_error.html",
        {
            "message": message,
            "identity": identity,
            "retry_url": _sso_start_url(next_url),
            "login_url": f"{reverse('login')}?{urlencode({'next': next_url, 'choose': '1'})}",
            "provider_name": settings.OIDC_PROVIDER_NAME,
        },
        status=status,
    )


def _recent(flow: object) -> bool:
    """Whether a sign-in was started within SESSION_SIGNED_OUT_AGE (its session's life)."""
    added = flow.get("added_on") if isinstance(flow, dict) else None
    return isinstance(added, int | float) and time.time() - added <= settings.SESSION_SIGNED_OUT_AGE


@login_not_required
@never_cache
def sso_callback(request: HttpRequest) -> HttpResponse:
    """The provider sends the browser back here with a code (or an error).

    1. The state must be one this browser's session started, and it is used
       up now whatever happens next (a replayed callback finds nothing).
    2. The backend exchanges the code (with the PKCE verifier), verifies the
       ID token against the nonce, and finds or creates the user in one
       transaction: any refusal leaves nothing behind.
    3. The person lands on what they asked for, the runbook of an alert link.
    """
    state = request.GET.get("state", "")
    flows = request.session.get("oidc_states")
    flow = flows.pop(state, None) if isinstance(flows, dict) and state else None
    if flow is not None:
        request.session["oidc_states"] = flows
        request.session.save()
    if request.GET.get("error"):
        reason = request.GET.get("error_description") or request.GET["error"]
        return _refused(
            request,
            _("%(provider)s did not sign you in: %(reason)s")
            % {"provider": settings.OIDC_PROVIDER_NAME, "reason": reason[:300]},
        )
    if flow is not None and not _recent(flow):
        flow = None  # older than a session with nobody signed in lasts
    if flow is None or not request.GET.get("code"):
        return _refused(
            request,
            _(
                "This sign-in link is not valid here: it was used already, it is too old, or "
                "the sign-in was started in another browser. Start again."
            ),
        )
    next_url = request.session.get(SSO_NEXT) or ""
    keep = request.session.get(SSO_KEEP, True)
    try:
        user = auth.authenticate(
            request=request, nonce=flow.get("nonce"), code_verifier=flow.get("code_verifier")
        )
    except oidc.ProviderUnavailable as e:
        logger.warning("sign-in callback: provider unavailable: %s", e)
        return _refused(
            request,
            _("%(provider)s is not answering right now, so single sign-on is unavailable.")
            % {"provider": settings.OIDC_PROVIDER_NAME},
            status=502,
        )
    except oidc.SignInRefused as e:
        logger.warning("sign-in callback refused: %s", e)
        return _refused(request, str(e), status=403, identity=e.identity)
    if user is None or not user.is_active:
        return _refused(request, _("This account is turned off here. Ask an admin."), status=403)
    id_token = request.session.get(ID_TOKEN)
    auth.login(request, user)
    if id_token:
        request.session[ID_TOKEN] = id_token
    keep_signed_in(request, keep)
    return redirect(landing_url(request, next_url))


@login_not_required
@never_cache
def sign_out(request: HttpRequest) -> HttpResponse:
    """POST ends the session here and comes back as a GET (the signed-out page),
    which offers the provider's sign-out when it has an end_session_endpoint.
    A GET while signed in only asks to confirm: signing out is never a link."""
    if request.method == "POST":
        id_token = request.session.get(ID_TOKEN)
        auth.logout(request)
        provider_logout = _provider_logout_url(request, id_token) if id_token else ""
        if provider_logout:
            # The new, anonymous session carries the link to the signed-out page.
            request.session[PROVIDER_LOGOUT] = provider_logout
        return redirect("logout")
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    return render(
        request,
        "registration/logged_out.html",
        {
            "provider_logout": request.session.get(PROVIDER_LOGOUT, ""),
            "provider_name": settings.OIDC_PROVIDER_NAME,
        },
    )


def _provider_logout_url(request: HttpRequest, id_token: str) -> str:
    if not oidc.is_configured():
        return ""
    try:
        endpoint = oidc.discover().get("end_session_endpoint")
    except oidc.ProviderUnavailable:
        return ""
    if not (isinstance(endpoint, str) and endpoint.startswith(("https://", "http://"))):
        return ""
    query = {
        "client_id": settings.OIDC_CLIENT_ID,
        "id_token_hint": id_token,
        "post_logout_redirect_uri": request.build_absolute_uri(reverse("login")),
    }
    return f"{endpoint}?{urlencode(query)}"


def _get_team_for_lead(request: HttpRequest, slug: str) -> Team:
    """A team the user leads (staff lead every team); 404 for anyone else."""
    return get_object_or_404(teams_led_by(request.user), slug=slug)


def _managed_by_groups(team: Team, mapped_groups: list[str]) -> str:
    return _(
        "Membership of %(team)s follows the groups %(groups)s at %(provider)s: "
        "ask whoever manages those groups to add them."
    ) % {
        "team": team.name,
        "groups": ", ".join(mapped_groups),
        "provider": settings.OIDC_PROVIDER_NAME,
    }


def _members_page(
    request: HttpRequest,
    team: Team,
    *,
    form: AddMemberForm | None = None,
    settings_form: TeamSettingsForm | None = None,
    row_errors: dict[int, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    memberships = team.memberships.select_related("user").order_by("role", "user__username")
    changes = team.membership_changes.select_related("user", "actor")[:20]
    return render(
        request,
        "accounts/team_members.html",
        {
            "team": team,
            "form": form or AddMemberForm(team=team),
            "settings_form": settings_form or TeamSettingsForm(instance=team),
            "memberships": memberships,
            "row_errors": row_errors or {},
            "roles": Membership.Role.choices,
            "changes": changes,
            "mapped_groups": groups_for_team(settings.OIDC_TEAM_GROUPS, team.slug),
            "provider_name": settings.OIDC_PROVIDER_NAME,
        },
        status=status,
    )


@login_required
def team_members(request: HttpRequest, slug: str) -> HttpResponse:
    """A lead's list of the team, where they add someone who has signed in once,
    change a member's role or remove them, and set the team's escalation note."""
    team = _get_team_for_lead(request, slug)
    mapped_groups = groups_for_team(settings.OIDC_TEAM_GROUPS, team.slug)
    form = AddMemberForm(request.POST or None, team=team)
    if request.method == "POST":
        if mapped_groups:
            form.add_error(None, _managed_by_groups(team, mapped_groups))
        elif form.is_valid():
            user = form.cleaned_data["person"]
            with transaction.atomic():
                Membership.objects.create(user=user, team=team, role=Membership.Role.MEMBER)
                _record(team, user, MembershipChange.Action.ADDED, Membership.Role.MEMBER, request)
            messages.success(
                request,
                _("%(user)s is now a member of %(team)s.")
                % {"user": _name(user), "team": team.name},
            )
            return redirect("team_members", slug=team.slug)
    return _members_page(request, team, form=form, status=400 if form.errors else 200)


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


def _record(team: Team, user, action: str, role: str, request: HttpRequest) -> None:
    MembershipChange.objects.create(
        team=team,
        user=user,
        action=action,
        role=role,
        source=MembershipChange.Source.LEAD,
        actor=request.user,
    )


def _get_membership_for_lead(request: HttpRequest, slug: str, user_id: int):
    """The team (led by the user) and the membership of ``user_id`` in it, locked
    for the change; 404 for a team the user does not lead or a person not in it."""
    team = _get_team_for_lead(request, slug)
    if not PK_MIN <= user_id <= PK_MAX:
        raise Http404
    membership = get_object_or_404(
        Membership.objects.select_for_update().select_related("user"), team=team, user_id=user_id
    )
    return team, membership


def _only_lead(team: Team, membership: Membership) -> bool:
    """Whether ``membership`` is the team's last lead (the other leads locked for the check)."""
    if membership.role != Membership.Role.LEAD:
        return False
    others = (
        Membership.objects.select_for_update()
        .filter(team=team, role=Membership.Role.LEAD)
        .exclude(pk=membership.pk)
    )
    return not list(others.values_list("pk", flat=True))


def _refusal(team: Team, membership: Membership) -> str:
    return _("%(user)s is the only lead of %(team)s: make someone else a lead first.") % {
        "user": _name(membership.user),
        "team": team.name,
    }


@login_required
@require_POST
def change_member_role(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    """A lead makes a member a lead or a lead a member; recorded like an addition.

    Not for a team whose membership follows identity-provider groups (the next
    sign-in would undo it), and never leaving the team without a lead."""
    role = request.POST.get("role", "")
    with transaction.atomic():
        team, membership = _get_membership_for_lead(request, slug, user_id)
        mapped_groups = groups_for_team(settings.OIDC_TEAM_GROUPS, team.slug)
        if mapped_groups:
            error = _managed_by_groups(team, mapped_groups)
        elif role not in Membership.Role.values:
            error = _("Choose a role: member or lead.")
        elif role != membership.role and _only_lead(team, membership):
            error = _refusal(team, membership)
        else:
            error = ""
            if role != membership.role:
                membership.role = role
                membership.save(update_fields=["role"])
                _record(team, membership.user, MembershipChange.Action.ROLE_CHANGED, role, request)
    if error:
        return _members_page(request, team, row_errors={membership.user_id: error}, status=400)
    messages.success(
        request,
        _("%(user)s is now a %(role)s of %(team)s.")
        % {
            "user": _name(membership.user),
            "role": membership.get_role_display(),
            "team": team.name,
        },
    )
    if not teams_led_by(request.user).filter(pk=team.pk).exists():
        return redirect("/")  # a lead who made themself a member no longer sees this page
    return redirect("team_members", slug=team.slug)


@login_required
@require_POST
def remove_member(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    """A lead removes someone from the team; recorded like an addition. What came
    through the team goes with the membership (see teams/access.py)."""
    with transaction.atomic():
        team, membership = _get_membership_for_lead(request, slug, user_id)
        mapped_groups = groups_for_team(settings.OIDC_TEAM_GROUPS, team.slug)
        if mapped_groups:
            error = _managed_by_groups(team, mapped_groups)
        elif _only_lead(team, membership):
            error = _refusal(team, membership)
        else:
            error = ""
            membership.delete()
            _record(
                team, membership.user, MembershipChange.Action.REMOVED, membership.role, request
            )
    if error:
        return _members_page(request, team, row_errors={membership.user_id: error}, status=400)
    messages.success(
        request,
        _("%(user)s is no longer in %(team)s.")
        % {"user": _name(membership.user), "team": team.name},
    )
    if not teams_led_by(request.user).filter(pk=team.pk).exists():
        return redirect("/")  # a lead who removed themself no longer sees this page
    return redirect("team_members", slug=team.slug)


@login_required
@require_POST
def team_settings(request: HttpRequest, slug: str) -> HttpResponse:
    """A lead sets who to page when no runbook answers, and the escalation delay."""
    team = _get_team_for_lead(request, slug)
    settings_form = TeamSettingsForm(request.POST, instance=team)
    if not settings_form.is_valid():
        return _members_page(request, team, settings_form=settings_form, status=400)
    settings_form.save()
    messages.success(request, _("The settings of %(team)s are saved.") % {"team": team.name})
    return redirect("team_members", slug=team.slug)
