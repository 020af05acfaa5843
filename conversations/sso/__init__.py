"""Single sign-on with OpenID Connect, on mozilla-django-oidc, configured only from the environment."""
