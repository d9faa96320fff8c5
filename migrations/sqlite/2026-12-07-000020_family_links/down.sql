ALTER TABLE schools DROP COLUMN logo_url;
ALTER TABLE schools DROP COLUMN address;
ALTER TABLE schools DROP COLUMN email;
ALTER TABLE schools DROP COLUMN phone;
ALTER TABLE programme_sessions DROP COLUMN recorded_by_family;
ALTER TABLE meeting_guests DROP COLUMN responded_at;
ALTER TABLE meeting_guests DROP COLUMN response_note;
ALTER TABLE meeting_guests DROP COLUMN response;
DROP TABLE family_links;
