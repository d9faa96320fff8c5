DROP TABLE provision_reviews;
DROP TABLE provision_items;
DROP TABLE programme_sessions;
DROP TABLE programme_blocks;
DROP TABLE coaching_plans;
ALTER TABLE meetings DROP COLUMN purpose;
