-- Meetings are scheduled, moved, cancelled and recorded in the six parts of a coaching
-- conversation; calendars follow them through SEQUENCE.
ALTER TABLE meetings ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;
ALTER TABLE meetings ADD COLUMN cancel_reason TEXT;
ALTER TABLE meetings ADD COLUMN follow_up TEXT;
ALTER TABLE meetings ADD COLUMN successes TEXT;
ALTER TABLE meetings ADD COLUMN challenges TEXT;
ALTER TABLE meetings ADD COLUMN focus TEXT;
ALTER TABLE meetings ADD COLUMN action_steps TEXT;
ALTER TABLE meetings ADD COLUMN next_step TEXT;

-- People without a staff account who take part: parents and carers, external professionals.
CREATE TABLE meeting_guests (
    id BIGSERIAL PRIMARY KEY,
    meeting_id BIGINT NOT NULL REFERENCES meetings (id),
    school_id BIGINT NOT NULL REFERENCES schools (id),
    name TEXT NOT NULL,
    email TEXT,
    role TEXT NOT NULL
);
CREATE INDEX meeting_guests_meeting ON meeting_guests (meeting_id);

-- A staff member who prefers one daily email names the hour it comes (school time).
ALTER TABLE staff ADD COLUMN digest_hour SMALLINT;

-- Who an email is for (for the digest and the admin page), and what it is about.
ALTER TABLE outbox ADD COLUMN staff_id BIGINT REFERENCES staff (id);
ALTER TABLE outbox ADD COLUMN topic TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_school_created ON outbox (school_id, created_at);
CREATE INDEX outbox_staff_status ON outbox (staff_id, status);
CREATE INDEX meetings_status_due ON meetings (status, due_on);
