"""Real servers for the tests: PostgreSQL, Dovecot, an SMTP sink, an OAuth provider."""
