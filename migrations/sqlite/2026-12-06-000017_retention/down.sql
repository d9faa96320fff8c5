DROP TABLE erased_step_impacts;
DROP TABLE erased_level_moves;
DROP TABLE erased_incident_facts;
DROP TABLE retention_periods;
