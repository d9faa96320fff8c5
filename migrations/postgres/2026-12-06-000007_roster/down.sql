ALTER TABLE pupils DROP COLUMN left_on;
ALTER TABLE pupils DROP COLUMN date_of_birth;
