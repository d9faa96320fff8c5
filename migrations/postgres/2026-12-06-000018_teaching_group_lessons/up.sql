-- When each teaching group meets (its lesson slots, as the timetable export gives them: "1",
-- "Mon 4", "Wed-A Period 2") and who teaches it, both brought in with the OneRoster bundle, so
-- the logging page can open on the class a teacher is teaching now.
ALTER TABLE teaching_groups ADD COLUMN periods TEXT NOT NULL DEFAULT '';

CREATE TABLE teaching_group_teachers (
    group_id BIGINT NOT NULL REFERENCES teaching_groups (id),
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    school_id BIGINT NOT NULL REFERENCES schools (id),
    PRIMARY KEY (group_id, staff_id)
);
CREATE INDEX teaching_group_teachers_staff ON teaching_group_teachers (staff_id);
