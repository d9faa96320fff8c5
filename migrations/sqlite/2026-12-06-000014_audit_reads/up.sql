-- The audit page filters the log by person and by pupil, newest first.
CREATE INDEX audit_log_actor_at ON audit_log (school_id, actor_id, at);
CREATE INDEX audit_log_entity_at ON audit_log (school_id, entity, entity_id, at);
