DROP INDEX pupils_house;
DROP INDEX staff_houses_house;
DROP TABLE lesson_periods;
DROP TABLE school_timetables;
