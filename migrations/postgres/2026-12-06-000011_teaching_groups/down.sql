DROP INDEX teaching_group_members_pupil;
DROP TABLE teaching_group_members;
DROP TABLE teaching_groups;
