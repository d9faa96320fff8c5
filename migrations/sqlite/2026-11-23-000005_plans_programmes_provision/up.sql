-- Levels 4 to 6: the Coaching Plan (versioned), the Coaching Programme's blocks and sessions,
-- and the items of a Bespoke Provision Map with their assess-plan-do-review history.

-- What a meeting is for, beyond its level: 'level' (the level's own meeting, or a block
-- review at level 5) or 'planning' (the planning session that follows the level-6 team
-- meeting, with the pupil and their parent or carer).
ALTER TABLE meetings ADD COLUMN purpose TEXT NOT NULL DEFAULT 'level';

-- Each revision of a pupil's Coaching Plan is a new version; earlier ones stay readable.
CREATE TABLE coaching_plans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    pupil_id BIGINT NOT NULL REFERENCES pupils (id),
    version INTEGER NOT NULL,
    meeting_id BIGINT REFERENCES meetings (id),
    goals TEXT NOT NULL,
    pathway_to_independence TEXT NOT NULL,
    action_steps TEXT NOT NULL,
    review_on DATE NOT NULL,
    agreed_with TEXT,
    created_by BIGINT NOT NULL REFERENCES staff (id),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (pupil_id, version)
);

-- A block of the Coaching Programme (2, 4 or 6 weeks) as planned, and how it was reviewed.
CREATE TABLE programme_blocks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    pupil_id BIGINT NOT NULL REFERENCES pupils (id),
    plan_id BIGINT REFERENCES coaching_plans (id),
    weeks SMALLINT NOT NULL,
    starts_on DATE NOT NULL,
    ends_on DATE NOT NULL,
    sessions_per_week INTEGER NOT NULL,
    weekdays TEXT NOT NULL,
    minutes INTEGER NOT NULL,
    session_time TEXT,
    place TEXT NOT NULL,
    led_by TEXT NOT NULL,
    practitioner_id BIGINT REFERENCES staff (id),
    practitioner_name TEXT,
    lost_to_closures TEXT NOT NULL,
    status TEXT NOT NULL,
    decision TEXT,
    decision_reason TEXT,
    delivered_at_review INTEGER,
    planned_at_review INTEGER,
    reviewed_at TIMESTAMP,
    reviewed_by BIGINT REFERENCES staff (id),
    created_by BIGINT NOT NULL REFERENCES staff (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX programme_blocks_pupil ON programme_blocks (pupil_id, starts_on);
CREATE UNIQUE INDEX programme_blocks_one_running ON programme_blocks (pupil_id) WHERE status = 'running';

-- One planned session of a block, and what was recorded for it.
CREATE TABLE programme_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    block_id BIGINT NOT NULL REFERENCES programme_blocks (id),
    pupil_id BIGINT NOT NULL REFERENCES pupils (id),
    on_date DATE NOT NULL,
    session_time TEXT,
    is_final BOOLEAN NOT NULL,
    outcome TEXT,
    minutes INTEGER,
    delivered_by TEXT,
    note TEXT,
    reason TEXT,
    parent_attended BOOLEAN,
    recorded_by BIGINT REFERENCES staff (id),
    recorded_at TIMESTAMP
);
CREATE INDEX programme_sessions_block ON programme_sessions (block_id, on_date);
CREATE INDEX programme_sessions_school_day ON programme_sessions (school_id, on_date);

-- One provision of a pupil's Bespoke Provision Map.
CREATE TABLE provision_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    pupil_id BIGINT NOT NULL REFERENCES pupils (id),
    what TEXT NOT NULL,
    external BOOLEAN NOT NULL,
    provider_name TEXT NOT NULL,
    frequency_per_week INTEGER NOT NULL,
    session_minutes INTEGER NOT NULL,
    starts_on DATE NOT NULL,
    review_on DATE NOT NULL,
    ends_on DATE NOT NULL,
    cost_per_session_pence BIGINT NOT NULL,
    entry_data TEXT NOT NULL,
    target TEXT NOT NULL,
    exit_data TEXT,
    outcome TEXT,
    status TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES staff (id),
    created_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP
);
CREATE INDEX provision_items_pupil ON provision_items (pupil_id);
CREATE INDEX provision_items_school_status ON provision_items (school_id, status, review_on);

-- Each assess-plan-do-review cycle of a provision item, kept as history.
CREATE TABLE provision_reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    item_id BIGINT NOT NULL REFERENCES provision_items (id),
    reviewed_on DATE NOT NULL,
    assessment TEXT NOT NULL,
    progress TEXT NOT NULL,
    next_plan TEXT,
    decision TEXT NOT NULL,
    next_review_on DATE,
    reviewed_by BIGINT NOT NULL REFERENCES staff (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX provision_reviews_item ON provision_reviews (item_id, reviewed_on);
