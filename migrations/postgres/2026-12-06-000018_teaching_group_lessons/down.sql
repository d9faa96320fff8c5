DROP TABLE teaching_group_teachers;
ALTER TABLE teaching_groups DROP COLUMN periods;
