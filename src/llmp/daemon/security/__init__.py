"""Who may talk to the daemon, and how much: origins, client keys, JWTs, limits."""
