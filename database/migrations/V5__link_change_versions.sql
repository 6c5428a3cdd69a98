-- The version a change put (NULL for a link removed): a proxy whose cached link is at
-- least that new keeps it, instead of reading again a link it wrote itself.
ALTER TABLE link_changes ADD COLUMN version BIGINT;
