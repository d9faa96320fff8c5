-- A person's second factor for password sign-in: a TOTP authenticator (RFC 6238: SHA-1, 6
-- digits, 30-second steps). The shared secret is kept as base32 text. Until its first code is
-- typed the row is unconfirmed (confirmed_at empty) and does not count. last_used_step is the
-- last 30-second step whose code was accepted: a code of that step or an earlier one is refused,
-- so no code works twice.
CREATE TABLE second_factors (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    staff_id BIGINT NOT NULL UNIQUE REFERENCES staff (id),
    secret TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    confirmed_at TIMESTAMP,
    last_used_step BIGINT
);

-- Single-use recovery codes, ten at a time, shown once when made. Only the SHA-256 hash of a
-- code is stored; using one marks it used.
CREATE TABLE recovery_codes (
    id BIGSERIAL PRIMARY KEY,
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    code_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX recovery_codes_staff ON recovery_codes (staff_id);
