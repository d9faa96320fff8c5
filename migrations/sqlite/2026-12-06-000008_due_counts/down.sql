ALTER TABLE meetings DROP COLUMN due_school_days;
ALTER TABLE meetings DROP COLUMN due_from;
