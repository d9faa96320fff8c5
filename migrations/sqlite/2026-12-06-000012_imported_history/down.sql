DROP INDEX incidents_import_key;
ALTER TABLE incidents DROP COLUMN import_key;
ALTER TABLE incidents DROP COLUMN imported;
