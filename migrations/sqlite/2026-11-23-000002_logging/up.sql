-- Logging incidents from the classroom: the school's behaviour list, undo and edit, answers
-- kept for idempotent retries, Coaching Conversation records, and per-pupil look-ups that stay
-- fast however long a school's history grows.

-- The incident's time on each pupil link, so a pupil's recent incidents are one index range.
ALTER TABLE incident_pupils ADD COLUMN occurred_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE incident_pupils SET occurred_at = (SELECT occurred_at FROM incidents WHERE incidents.id = incident_pupils.incident_id);
CREATE INDEX incident_pupils_pupil_time ON incident_pupils (pupil_id, occurred_at);

-- Undo and edit by the author, within a short window; both are audited.
ALTER TABLE incidents ADD COLUMN voided_at TIMESTAMP;
ALTER TABLE incidents ADD COLUMN edited_at TIMESTAMP;
CREATE INDEX incidents_reporter ON incidents (reported_by, occurred_at);

-- When each pupil was last involved in an incident, for step-down checks.
ALTER TABLE pupils ADD COLUMN last_incident_at TIMESTAMP;

-- The school's own list of behaviours to pick from when logging.
CREATE TABLE behaviours (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    name TEXT NOT NULL,
    serious BOOLEAN NOT NULL DEFAULT FALSE,
    position INTEGER NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    UNIQUE (school_id, name)
);

-- The first answer to a request carrying an Idempotency-Key, returned again on a repeat.
CREATE TABLE idempotency_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (staff_id, idempotency_key)
);

-- A Coaching Conversation, recorded in the shape of a coaching conversation.
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    pupil_id BIGINT NOT NULL REFERENCES pupils (id),
    held_by BIGINT NOT NULL REFERENCES staff (id),
    held_at TIMESTAMP NOT NULL,
    with_whom TEXT,
    what_happened TEXT NOT NULL,
    what_got_in_the_way TEXT,
    what_could_help TEXT,
    plan_next_time TEXT NOT NULL,
    good_for_everyone TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX conversations_pupil ON conversations (pupil_id, held_at);

CREATE TABLE conversation_incidents (
    conversation_id BIGINT NOT NULL REFERENCES conversations (id),
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    school_id BIGINT NOT NULL REFERENCES schools (id),
    PRIMARY KEY (conversation_id, incident_id)
);
