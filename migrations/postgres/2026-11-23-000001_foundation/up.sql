-- Foundation of Steadfast: schools, people, the Coaching Sequence records, the outbox and the audit log.
-- Every row belongs to a school (school_id), so a trust can hold several schools in one database.
-- Times are UTC; dates are school-local (Europe/London) calendar dates.

CREATE TABLE schools (
    id BIGSERIAL PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE year_groups (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    year SMALLINT NOT NULL,
    name TEXT NOT NULL,
    UNIQUE (school_id, year)
);

CREATE TABLE houses (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    name TEXT NOT NULL,
    UNIQUE (school_id, name)
);

CREATE TABLE staff (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX staff_school ON staff (school_id);

CREATE TABLE staff_roles (
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    role TEXT NOT NULL,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    PRIMARY KEY (staff_id, role)
);

CREATE TABLE staff_year_groups (
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    year_group_id BIGINT NOT NULL REFERENCES year_groups (id),
    school_id BIGINT NOT NULL REFERENCES schools (id),
    PRIMARY KEY (staff_id, year_group_id)
);

CREATE TABLE staff_houses (
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    house_id BIGINT NOT NULL REFERENCES houses (id),
    school_id BIGINT NOT NULL REFERENCES schools (id),
    PRIMARY KEY (staff_id, house_id)
);

CREATE TABLE forms (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    year_group_id BIGINT NOT NULL REFERENCES year_groups (id),
    name TEXT NOT NULL,
    tutor_id BIGINT REFERENCES staff (id),
    UNIQUE (school_id, name)
);

CREATE TABLE pupils (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    upn TEXT NOT NULL,
    given_name TEXT NOT NULL,
    family_name TEXT NOT NULL,
    year_group_id BIGINT NOT NULL REFERENCES year_groups (id),
    form_id BIGINT NOT NULL REFERENCES forms (id),
    house_id BIGINT REFERENCES houses (id),
    sen_status TEXT NOT NULL,
    level SMALLINT NOT NULL DEFAULT 0,
    level_since TIMESTAMP NOT NULL,
    programme_block SMALLINT,
    had_plan BOOLEAN NOT NULL DEFAULT FALSE,
    programme_without_impact BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (school_id, upn)
);
CREATE INDEX pupils_school_year ON pupils (school_id, year_group_id);
CREATE INDEX pupils_school_family ON pupils (school_id, family_name);

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);

CREATE TABLE school_closures (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    starts_on DATE NOT NULL,
    ends_on DATE NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL
);
CREATE INDEX school_closures_school ON school_closures (school_id);

CREATE TABLE policies (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by BIGINT REFERENCES staff (id),
    UNIQUE (school_id, version)
);

CREATE TABLE incidents (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    reported_by BIGINT NOT NULL REFERENCES staff (id),
    occurred_at TIMESTAMP NOT NULL,
    behaviour TEXT NOT NULL,
    severity TEXT NOT NULL,
    response TEXT NOT NULL,
    location TEXT,
    lesson TEXT,
    note TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX incidents_school_time ON incidents (school_id, occurred_at);

CREATE TABLE incident_pupils (
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    pupil_id BIGINT NOT NULL REFERENCES pupils (id),
    school_id BIGINT NOT NULL REFERENCES schools (id),
    PRIMARY KEY (incident_id, pupil_id)
);
CREATE INDEX incident_pupils_pupil ON incident_pupils (pupil_id);

CREATE TABLE suggestions (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    pupil_id BIGINT NOT NULL REFERENCES pupils (id),
    from_level SMALLINT NOT NULL,
    to_level SMALLINT NOT NULL,
    rule TEXT NOT NULL,
    reason TEXT NOT NULL,
    evidence TEXT NOT NULL,
    status TEXT NOT NULL,
    policy_version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    decided_by BIGINT REFERENCES staff (id),
    decided_at TIMESTAMP,
    decision_note TEXT,
    snoozed_until DATE
);
CREATE INDEX suggestions_school_status ON suggestions (school_id, status);
CREATE INDEX suggestions_pupil ON suggestions (pupil_id);

CREATE TABLE level_changes (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    pupil_id BIGINT NOT NULL REFERENCES pupils (id),
    from_level SMALLINT NOT NULL,
    to_level SMALLINT NOT NULL,
    reason TEXT NOT NULL,
    changed_by BIGINT REFERENCES staff (id),
    suggestion_id BIGINT REFERENCES suggestions (id),
    is_override BOOLEAN NOT NULL DEFAULT FALSE,
    occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX level_changes_pupil ON level_changes (pupil_id);

CREATE TABLE meetings (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    pupil_id BIGINT NOT NULL REFERENCES pupils (id),
    level SMALLINT NOT NULL,
    due_on DATE NOT NULL,
    status TEXT NOT NULL,
    starts_at TIMESTAMP,
    duration_minutes INTEGER,
    location TEXT,
    parent_invited BOOLEAN NOT NULL DEFAULT FALSE,
    held_at TIMESTAMP,
    summary TEXT,
    goals_met BOOLEAN,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX meetings_school_status ON meetings (school_id, status, due_on);
CREATE INDEX meetings_pupil ON meetings (pupil_id);

CREATE TABLE meeting_participants (
    meeting_id BIGINT NOT NULL REFERENCES meetings (id),
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    school_id BIGINT NOT NULL REFERENCES schools (id),
    PRIMARY KEY (meeting_id, staff_id)
);

CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    message_key TEXT NOT NULL UNIQUE,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT,
    calendar_ics TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX outbox_status_next ON outbox (status, next_attempt_at);

CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    actor_id BIGINT REFERENCES staff (id),
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id BIGINT,
    detail TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_school_at ON audit_log (school_id, at);
