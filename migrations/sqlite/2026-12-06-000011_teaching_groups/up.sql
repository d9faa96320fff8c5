-- Teaching groups: the scheduled classes of a OneRoster bundle (a maths set, say), matched by
-- the class's sourcedId, with their pupils. Brought in by `steadfast import oneroster`.
CREATE TABLE teaching_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    source_id TEXT NOT NULL,
    name TEXT NOT NULL,
    subject TEXT,
    UNIQUE (school_id, source_id)
);

CREATE TABLE teaching_group_members (
    group_id BIGINT NOT NULL REFERENCES teaching_groups (id),
    pupil_id BIGINT NOT NULL REFERENCES pupils (id),
    school_id BIGINT NOT NULL REFERENCES schools (id),
    PRIMARY KEY (group_id, pupil_id)
);
CREATE INDEX teaching_group_members_pupil ON teaching_group_members (pupil_id);
