-- incident_pupils_pupil_time (pupil_id, occurred_at) answers every lookup by pupil, so the
-- index on pupil_id alone only costs a write per incident.
DROP INDEX incident_pupils_pupil;
