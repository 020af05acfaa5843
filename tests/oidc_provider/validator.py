"""The claims this provider puts in ID tokens and userinfo."""

from __future__ import annotations

from oauth2_provider.oauth2_validators import OAuth2Validator

UNVERIFIED = "email-unverified"  # members' email is sent with email_verified false (and the group is not sent)


class ClaimsValidator(OAuth2Validator):
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "groups": "profile"}

    def get_additional_claims(self, request):
        user = request.user
        return {
            "email": user.email,
            "email_verified": not user.groups.filter(name=UNVERIFIED).exists(),
            "preferred_username": user.username,
            "groups": sorted(group.name for group in user.groups.exclude(name=UNVERIFIED)),
        }
