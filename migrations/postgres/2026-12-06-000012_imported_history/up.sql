-- Incidents brought in from another system's export: marked as imported, with a key that
-- stays the same for the same incident in any later export, so an import run twice adds
-- nothing the second time.
ALTER TABLE incidents ADD COLUMN imported BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE incidents ADD COLUMN import_key TEXT;
CREATE UNIQUE INDEX incidents_import_key ON incidents (school_id, import_key);
