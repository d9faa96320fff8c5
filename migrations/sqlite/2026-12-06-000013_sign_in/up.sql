-- Sessions are rows: the cookie carries a random key, of which only the SHA-256 hash is
-- stored. A row holds the session's state (CSRF token, a sign-in in progress), who signed in
-- and from what device, when it began and when it was last used. Signing out deletes it;
-- closing an account, changing a password or "sign out everywhere" deletes a person's rows.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    staff_id BIGINT REFERENCES staff (id),
    school_id BIGINT REFERENCES schools (id),
    device TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_staff ON sessions (staff_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Failed sign-ins, counted per account (the hash of the address typed, known or not) and per
-- client address, so that repeated failures make the next attempt wait.
CREATE TABLE login_failures (
    key_hash TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_failed_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP
);

-- API tokens get a name their owner chose and an optional expiry.
ALTER TABLE api_tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMP;

-- Each school's sign-in settings: how long a session lasts idle and at most, which roles
-- must use a second factor, whether passwords may be used, and its OpenID Connect provider.
ALTER TABLE schools ADD COLUMN session_idle_minutes INTEGER NOT NULL DEFAULT 60;
ALTER TABLE schools ADD COLUMN session_lifetime_hours INTEGER NOT NULL DEFAULT 12;
ALTER TABLE schools ADD COLUMN mfa_roles TEXT NOT NULL DEFAULT 'sendco,slt,admin';
ALTER TABLE schools ADD COLUMN password_login BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE schools ADD COLUMN oidc_issuer TEXT;
ALTER TABLE schools ADD COLUMN oidc_client_id TEXT;
ALTER TABLE schools ADD COLUMN oidc_client_secret TEXT;
