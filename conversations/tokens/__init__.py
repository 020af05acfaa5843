"""Personal API tokens: `services` issues, authenticates and revokes them (and announces their end
to every process), `views` is the settings page, `admin` the operator's list without secrets."""
