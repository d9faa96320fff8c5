-- Keyset paging of the API's lists: each list is read after the sort key of the last row of
-- the page before (`WHERE key > last ORDER BY key LIMIT n`), which these indexes answer
-- without reading the rows before it.
CREATE INDEX pupils_school_names ON pupils (school_id, family_name, given_name, id);
CREATE INDEX meetings_school_due ON meetings (school_id, due_on, id);
CREATE INDEX suggestions_school_created ON suggestions (school_id, created_at, id);
CREATE INDEX staff_school_name ON staff (school_id, name, id);
