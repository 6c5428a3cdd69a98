-- Which links changed when, by the database's clock: every proxy reads this to drop what it
-- has cached of a link another proxy changed. Kept a few minutes, then collected.
CREATE TABLE link_changes (
    id BIGSERIAL PRIMARY KEY,
    requestor TEXT NOT NULL,
    device TEXT NOT NULL,
    changed_at BIGINT NOT NULL
);
CREATE INDEX link_changes_by_time ON link_changes (changed_at);
