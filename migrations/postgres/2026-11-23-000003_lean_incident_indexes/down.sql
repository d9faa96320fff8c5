CREATE INDEX incident_pupils_pupil ON incident_pupils (pupil_id);
