-- Incidents per pupil per school-time date, kept up to date as incidents are logged and
-- undone, so trends and the before/after impact of each step read a few rows per pupil.
CREATE TABLE pupil_day_incidents (
    pupil_id BIGINT NOT NULL REFERENCES pupils (id),
    day DATE NOT NULL,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    incidents INTEGER NOT NULL,
    PRIMARY KEY (pupil_id, day)
);
CREATE INDEX pupil_day_incidents_school_day ON pupil_day_incidents (school_id, day);
-- Level changes by school and date, for the ladder's weekly flow and the impact of each step.
CREATE INDEX level_changes_school_time ON level_changes (school_id, occurred_at);
