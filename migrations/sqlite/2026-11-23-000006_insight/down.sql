DROP INDEX level_changes_school_time;
DROP TABLE pupil_day_incidents;
