"""Sign-up and password reset, rate-limited, ahead of django.contrib.auth's pages under /accounts/."""
