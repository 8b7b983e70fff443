-- What contactcenter/db/retention.py deletes by age, found without reading whole tables.
-- agent_events grows by several rows per conversation and is only ever appended in time
-- order, so a BRIN index on created_at (a few pages, next to nothing to maintain on insert)
-- finds the old end; agent_sessions is small, a b-tree on expires_at is fine.
CREATE INDEX agent_events_created ON agent_events USING brin (created_at);
CREATE INDEX agent_sessions_expiry ON agent_sessions (expires_at);
