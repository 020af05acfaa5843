"""A real OpenID Connect provider for the SSO tests: django-oauth-toolkit in a Django project of
its own, run by the tests as a second process (tests/test_sso.py). Nothing in it is mocked.

Its users' claims: `email`, `email_verified` (false for members of the group "email-unverified"),
`preferred_username` and `groups` (the names of their other Django groups here).
"""
