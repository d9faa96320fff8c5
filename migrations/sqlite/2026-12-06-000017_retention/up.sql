-- A school's retention schedule: how long each kind of record is kept. For a pupil's records
-- keep_years is the birthday they are kept until (25: until the pupil's 25th birthday); for
-- the audit log and the outbox it is the years a row is kept after it was written. A kind
-- with no row here keeps its default (see src/domain/retention.rs).
CREATE TABLE retention_periods (
    school_id BIGINT NOT NULL REFERENCES schools (id),
    record_kind TEXT NOT NULL,
    keep_years INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    updated_by BIGINT REFERENCES staff (id),
    PRIMARY KEY (school_id, record_kind)
);

-- What the insight reports counted of a pupil's records once the retention schedule erased
-- them, with no link to the pupil: one row per pupil an erased incident involved ...
CREATE TABLE erased_incident_facts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    occurred_at TIMESTAMP NOT NULL,
    behaviour TEXT NOT NULL,
    location TEXT,
    lesson TEXT,
    reported_by BIGINT NOT NULL REFERENCES staff (id),
    erased_at TIMESTAMP NOT NULL
);
CREATE INDEX erased_incident_facts_school_time ON erased_incident_facts (school_id, occurred_at);

-- ... one row per erased move between levels (the ladder's weekly flow) ...
CREATE TABLE erased_level_moves (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    occurred_at TIMESTAMP NOT NULL,
    from_level SMALLINT NOT NULL,
    to_level SMALLINT NOT NULL,
    changed_by BIGINT REFERENCES staff (id),
    year SMALLINT NOT NULL,
    erased_at TIMESTAMP NOT NULL
);
CREATE INDEX erased_level_moves_school_time ON erased_level_moves (school_id, occurred_at);

-- ... and one row per erased entry to a level with the incidents counted around it (the
-- impact of each step), as the report counted them when the records went.
CREATE TABLE erased_step_impacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    level SMALLINT NOT NULL,
    entered_on DATE NOT NULL,
    before_from DATE NOT NULL,
    before_to DATE NOT NULL,
    after_from DATE NOT NULL,
    after_to DATE NOT NULL,
    school_days INTEGER NOT NULL,
    incidents_before INTEGER NOT NULL,
    incidents_after INTEGER NOT NULL,
    year SMALLINT NOT NULL,
    delivered_by BIGINT REFERENCES staff (id),
    erased_at TIMESTAMP NOT NULL
);
CREATE INDEX erased_step_impacts_school_day ON erased_step_impacts (school_id, entered_on);
