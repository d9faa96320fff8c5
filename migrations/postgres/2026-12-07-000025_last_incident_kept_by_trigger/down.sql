DROP TRIGGER incident_pupils_stamp_insert ON incident_pupils;
CREATE TRIGGER incident_pupils_stamp_insert AFTER INSERT ON incident_pupils
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION steadfast_stamp_new_rows();
DROP FUNCTION steadfast_stamp_new_incident_pupils();
