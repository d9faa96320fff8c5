-- A school's own timetable. A school with no row in school_timetables keeps the standard
-- periods (Period 1 to Period 6 with a break and lunch, Monday to Friday); once it saves its
-- own, its lesson_periods are the whole timetable, even a day left without periods.
CREATE TABLE school_timetables (
    school_id BIGINT PRIMARY KEY REFERENCES schools (id),
    -- On a two-week timetable, the Monday of a week A (weeks alternate from it); NULL: one week.
    week_a_starts DATE,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE lesson_periods (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    -- 'A' or 'B' on a two-week timetable, NULL when every week is the same.
    week TEXT,
    -- 1 Monday to 7 Sunday.
    weekday SMALLINT NOT NULL,
    name TEXT NOT NULL,
    -- Minutes after midnight, London time.
    starts_minute SMALLINT NOT NULL,
    ends_minute SMALLINT NOT NULL
);
CREATE INDEX lesson_periods_school ON lesson_periods (school_id);

-- Heads of House: the pastoral leads of a house, and a house's pupils, found by the house.
CREATE INDEX staff_houses_house ON staff_houses (house_id);
CREATE INDEX pupils_house ON pupils (house_id);
