-- The whole school's incidents counted per school day and per group of each grouping the
-- pattern report shows (behaviour, place, subject, lesson period, member of staff logging),
-- kept with every incident as `pupil_day_incidents` is: a year of the report reads a few
-- thousand rows, not every incident. An incident with several pupils counts once for each.
-- Erased pupils' incidents stay counted (the retention schedule keeps them as facts). Filled
-- for existing incidents when Steadfast starts (`insight::fill_groupings_if_missing`), as the
-- lesson periods are the school's own timetable.
CREATE TABLE school_day_groups (
    school_id BIGINT NOT NULL REFERENCES schools (id),
    day DATE NOT NULL,
    dimension TEXT NOT NULL,
    grouping TEXT NOT NULL,
    incidents INTEGER NOT NULL,
    PRIMARY KEY (school_id, day, dimension, grouping)
);
