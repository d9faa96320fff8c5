DROP TRIGGER incident_pupils_stamp_insert;
CREATE TRIGGER incident_pupils_stamp_insert AFTER INSERT ON incident_pupils BEGIN
    UPDATE pupils SET history_stamp = history_stamp + 1 WHERE id = NEW.pupil_id;
END;
