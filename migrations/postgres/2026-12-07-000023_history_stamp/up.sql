-- A counter per pupil that moves whenever anything the escalation rules read about the pupil
-- changes (their incidents, meetings, suggestions), kept by the database itself so that no
-- writer can forget it. The service keeps each pupil's recent history in memory and reads it
-- again only when the counter has moved. Statement-level triggers: a bulk load (COPY) moves
-- each pupil's counter once per statement, not once per row.
ALTER TABLE pupils ADD COLUMN history_stamp BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION steadfast_stamp_new_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE pupils SET history_stamp = history_stamp + 1
    WHERE id IN (SELECT pupil_id FROM new_rows);
    RETURN NULL;
END $$;

CREATE FUNCTION steadfast_stamp_old_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE pupils SET history_stamp = history_stamp + 1
    WHERE id IN (SELECT pupil_id FROM old_rows);
    RETURN NULL;
END $$;

CREATE FUNCTION steadfast_stamp_changed_incidents() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE pupils SET history_stamp = history_stamp + 1
    WHERE id IN (SELECT ip.pupil_id FROM incident_pupils ip JOIN new_rows n ON n.id = ip.incident_id);
    RETURN NULL;
END $$;

CREATE TRIGGER incident_pupils_stamp_insert AFTER INSERT ON incident_pupils
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION steadfast_stamp_new_rows();
CREATE TRIGGER incident_pupils_stamp_delete AFTER DELETE ON incident_pupils
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION steadfast_stamp_old_rows();
CREATE TRIGGER incidents_stamp_update AFTER UPDATE ON incidents
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION steadfast_stamp_changed_incidents();
CREATE TRIGGER meetings_stamp_insert AFTER INSERT ON meetings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION steadfast_stamp_new_rows();
CREATE TRIGGER meetings_stamp_update_new AFTER UPDATE ON meetings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION steadfast_stamp_new_rows();
CREATE TRIGGER meetings_stamp_update_old AFTER UPDATE ON meetings
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION steadfast_stamp_old_rows();
CREATE TRIGGER meetings_stamp_delete AFTER DELETE ON meetings
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION steadfast_stamp_old_rows();
CREATE TRIGGER suggestions_stamp_insert AFTER INSERT ON suggestions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION steadfast_stamp_new_rows();
CREATE TRIGGER suggestions_stamp_update AFTER UPDATE ON suggestions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION steadfast_stamp_new_rows();
CREATE TRIGGER suggestions_stamp_delete AFTER DELETE ON suggestions
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION steadfast_stamp_old_rows();
