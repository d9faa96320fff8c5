DROP INDEX audit_log_entity_at;
DROP INDEX audit_log_actor_at;
