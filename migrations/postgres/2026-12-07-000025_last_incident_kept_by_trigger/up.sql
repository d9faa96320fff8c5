-- Linking an incident to its pupils now also moves each pupil's last incident, in the update
-- that moves their history stamp: logging then updates a pupil's row once, not twice (a second
-- update of a row in one transaction makes PostgreSQL check all of the row's foreign keys again).
CREATE FUNCTION steadfast_stamp_new_incident_pupils() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE pupils SET history_stamp = pupils.history_stamp + 1,
        last_incident_at = GREATEST(pupils.last_incident_at, linked.last_at)
    FROM (SELECT pupil_id, max(occurred_at) AS last_at FROM new_rows GROUP BY pupil_id) AS linked
    WHERE pupils.id = linked.pupil_id;
    RETURN NULL;
END $$;

DROP TRIGGER incident_pupils_stamp_insert ON incident_pupils;
CREATE TRIGGER incident_pupils_stamp_insert AFTER INSERT ON incident_pupils
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION steadfast_stamp_new_incident_pupils();
