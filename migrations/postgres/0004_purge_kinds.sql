-- Cache tags and everything on a domain, delete or invalidate, a choice of edge groups.
ALTER TABLE tasks DROP CONSTRAINT tasks_kind_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_kind_check
    CHECK (kind IN ('url', 'prefix', 'regex', 'tag', 'everything'));

-- The host of a tag or everything task (URL kinds carry theirs in the target).
ALTER TABLE tasks ADD COLUMN host TEXT;
-- What the purge does to the objects it matches.
ALTER TABLE tasks ADD COLUMN mode TEXT NOT NULL DEFAULT 'delete'
    CHECK (mode IN ('delete', 'invalidate'));
-- The edge groups the task goes to, names joined with newlines; NULL for every group of its
-- domain.
ALTER TABLE tasks ADD COLUMN groups TEXT;

-- Daily limits of the new kinds; NULL means the default.
ALTER TABLE users ADD COLUMN quota_tag BIGINT;
ALTER TABLE users ADD COLUMN quota_everything BIGINT;
