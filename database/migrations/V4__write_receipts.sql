-- One row per committed write, inserted in the write's own transaction. When a proxy loses
-- its connection after sending COMMIT, it cannot know whether the write was stored; it then
-- claims the same id in a new transaction: finding the row means the write committed,
-- inserting it means the write never can. Kept for minutes (by the database's clock),
-- long after any proxy stops waiting for an answer.
CREATE TABLE write_receipts (
    id BYTEA PRIMARY KEY,
    written_at BIGINT NOT NULL,
    -- TRUE for a row a claim inserted: the write it names was not stored.
    claimed BOOLEAN NOT NULL
);
CREATE INDEX write_receipts_written_at ON write_receipts (written_at);
