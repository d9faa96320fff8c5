-- The people a pupil's family names to the school (mother, carer, social worker...), kept per
-- pupil and brought in with the roster; `invited` says whether the contact is asked to the
-- pupil's meetings, `position` the order the school's export gave them in.
CREATE TABLE pupil_contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    pupil_id BIGINT NOT NULL REFERENCES pupils (id),
    name TEXT NOT NULL,
    relationship TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    invited BOOLEAN NOT NULL DEFAULT TRUE,
    position INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX pupil_contacts_pupil ON pupil_contacts (pupil_id, position);
