-- Codes and links, each row one record as JSON beside the columns it is found by.
-- Kept to what PostgreSQL and CockroachDB both run: plain tables, unique indexes,
-- a sequence, BIGINT milliseconds rather than timestamps (one clock: the proxy's).

CREATE TABLE codes (
    -- The keyed hash of the code: unique, so two live codes can never be equal.
    hash BYTEA PRIMARY KEY,
    requestor TEXT NOT NULL,
    device TEXT NOT NULL,
    -- The keyed hash of the RFC 8628 device code polling for it, if any.
    device_code BYTEA UNIQUE,
    expires_at BIGINT NOT NULL,
    record JSONB NOT NULL
);
-- A device shows one code at a time.
CREATE UNIQUE INDEX codes_by_device ON codes (requestor, device);
CREATE INDEX codes_by_expiry ON codes (expires_at);

-- Versions of link writes, never reused (a link deleted and written again gets a new
-- one, so a writer holding the old version cannot overwrite the new link).
CREATE SEQUENCE link_versions;

CREATE TABLE links (
    requestor TEXT NOT NULL,
    device TEXT NOT NULL,
    version BIGINT NOT NULL,
    -- When its last user's sign-in ends; NULL when it has no user.
    expires_at BIGINT,
    link JSONB NOT NULL,
    PRIMARY KEY (requestor, device)
);
CREATE INDEX links_by_expiry ON links (expires_at);
