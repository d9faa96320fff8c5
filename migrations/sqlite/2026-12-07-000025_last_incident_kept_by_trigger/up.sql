-- Linking an incident to a pupil now also moves the pupil's last incident, in the update that
-- moves their history stamp: logging then updates a pupil's row once.
DROP TRIGGER incident_pupils_stamp_insert;
CREATE TRIGGER incident_pupils_stamp_insert AFTER INSERT ON incident_pupils BEGIN
    UPDATE pupils SET history_stamp = history_stamp + 1,
        last_incident_at = max(coalesce(last_incident_at, NEW.occurred_at), NEW.occurred_at)
    WHERE id = NEW.pupil_id;
END;
