DROP TABLE pupil_contacts;
