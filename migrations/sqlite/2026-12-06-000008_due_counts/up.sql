-- How a meeting's due date was counted: so many school days after a day. When the school's
-- calendar changes, due dates not yet passed are counted again from the same two figures.
-- Both stay empty where the date is not counted in school days (a block review falls on
-- the block's final session) and for meetings made before this migration.
ALTER TABLE meetings ADD COLUMN due_from DATE;
ALTER TABLE meetings ADD COLUMN due_school_days INTEGER;
