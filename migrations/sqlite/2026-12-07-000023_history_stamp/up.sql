-- A counter per pupil that moves whenever anything the escalation rules read about the pupil
-- changes (their incidents, meetings, suggestions), kept by the database itself so that no
-- writer can forget it. The service keeps each pupil's recent history in memory and reads it
-- again only when the counter has moved.
ALTER TABLE pupils ADD COLUMN history_stamp BIGINT NOT NULL DEFAULT 0;

CREATE TRIGGER incident_pupils_stamp_insert AFTER INSERT ON incident_pupils BEGIN
    UPDATE pupils SET history_stamp = history_stamp + 1 WHERE id = NEW.pupil_id;
END;
CREATE TRIGGER incident_pupils_stamp_delete AFTER DELETE ON incident_pupils BEGIN
    UPDATE pupils SET history_stamp = history_stamp + 1 WHERE id = OLD.pupil_id;
END;
CREATE TRIGGER incidents_stamp_update AFTER UPDATE ON incidents BEGIN
    UPDATE pupils SET history_stamp = history_stamp + 1
    WHERE id IN (SELECT pupil_id FROM incident_pupils WHERE incident_id = NEW.id);
END;
CREATE TRIGGER meetings_stamp_insert AFTER INSERT ON meetings BEGIN
    UPDATE pupils SET history_stamp = history_stamp + 1 WHERE id = NEW.pupil_id;
END;
CREATE TRIGGER meetings_stamp_update AFTER UPDATE ON meetings BEGIN
    UPDATE pupils SET history_stamp = history_stamp + 1 WHERE id IN (OLD.pupil_id, NEW.pupil_id);
END;
CREATE TRIGGER meetings_stamp_delete AFTER DELETE ON meetings BEGIN
    UPDATE pupils SET history_stamp = history_stamp + 1 WHERE id = OLD.pupil_id;
END;
CREATE TRIGGER suggestions_stamp_insert AFTER INSERT ON suggestions BEGIN
    UPDATE pupils SET history_stamp = history_stamp + 1 WHERE id = NEW.pupil_id;
END;
CREATE TRIGGER suggestions_stamp_update AFTER UPDATE ON suggestions BEGIN
    UPDATE pupils SET history_stamp = history_stamp + 1 WHERE id IN (OLD.pupil_id, NEW.pupil_id);
END;
CREATE TRIGGER suggestions_stamp_delete AFTER DELETE ON suggestions BEGIN
    UPDATE pupils SET history_stamp = history_stamp + 1 WHERE id = OLD.pupil_id;
END;
