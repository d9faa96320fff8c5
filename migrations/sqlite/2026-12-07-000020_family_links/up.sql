-- Family links: a link of its own, with no account, for a parent, carer, coach or external
-- professional: one guest of one meeting (to see it and answer), a pupil's Coaching Plan (to
-- read it and say so), or a programme block delivered at home (to record its sessions). The
-- token travels only in the link; only its SHA-256 hash is stored. A link works until what it
-- is for is over (decided from the record it points at) or staff revoke it.
CREATE TABLE family_links (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    pupil_id BIGINT NOT NULL REFERENCES pupils (id),
    purpose TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    guest_id BIGINT REFERENCES meeting_guests (id) ON DELETE CASCADE,
    plan_id BIGINT REFERENCES coaching_plans (id) ON DELETE CASCADE,
    block_id BIGINT REFERENCES programme_blocks (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    email TEXT,
    created_by BIGINT REFERENCES staff (id),
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    revoked_by BIGINT REFERENCES staff (id),
    acknowledged_at TIMESTAMP
);
CREATE INDEX family_links_guest ON family_links (guest_id);
CREATE INDEX family_links_plan ON family_links (plan_id);
CREATE INDEX family_links_block ON family_links (block_id);

-- A guest's answer to the invitation, given through their link: accepted, declined or
-- another_time, with a short note.
ALTER TABLE meeting_guests ADD COLUMN response TEXT;
ALTER TABLE meeting_guests ADD COLUMN response_note TEXT;
ALTER TABLE meeting_guests ADD COLUMN responded_at TIMESTAMP;

-- A session at home recorded by the parent, carer or coach through their link
-- (recorded_by stays a member of staff's id).
ALTER TABLE programme_sessions ADD COLUMN recorded_by_family BIGINT REFERENCES family_links (id) ON DELETE SET NULL;

-- What a family's page says about the school: its phone, contact email, postal address and
-- logo.
ALTER TABLE schools ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE schools ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE schools ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE schools ADD COLUMN logo_url TEXT;
