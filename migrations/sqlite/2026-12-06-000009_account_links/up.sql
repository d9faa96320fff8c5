-- Single-use links to choose a password: invitations (valid 7 days) and password resets
-- (valid 2 hours). Only the token's SHA-256 hash is stored, never the token. A newer link of
-- the same purpose for the same person revokes the older unused ones; using a link marks
-- it used.
CREATE TABLE account_links (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    purpose TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX account_links_staff ON account_links (staff_id, purpose);
