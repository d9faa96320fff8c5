ALTER TABLE schools DROP COLUMN follow_ups_since;
