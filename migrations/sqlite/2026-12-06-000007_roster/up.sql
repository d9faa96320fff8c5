-- A pupil's date of birth, as the MIS gives it, and the date they were marked as left (a
-- whole-roll import without them): a left pupil keeps every record, read-only.
ALTER TABLE pupils ADD COLUMN date_of_birth DATE;
ALTER TABLE pupils ADD COLUMN left_on DATE;
