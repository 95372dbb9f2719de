-- Cache tags and everything on a domain, delete or invalidate, a choice of edge groups,
-- prefetches; the callback URL once per batch.
ALTER TABLE tasks DROP CONSTRAINT tasks_kind_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_kind_check
    CHECK (kind IN ('url', 'prefix', 'regex', 'tag', 'everything', 'prefetch'));

-- The host of a tag or everything task (URL kinds carry theirs in the target).
ALTER TABLE tasks ADD COLUMN host TEXT;
-- What the purge does to the objects it matches.
ALTER TABLE tasks ADD COLUMN mode TEXT NOT NULL DEFAULT 'delete'
    CHECK (mode IN ('delete', 'invalidate'));
-- The edge groups the task goes to, names joined with newlines; NULL for every group of its
-- domain.
ALTER TABLE tasks ADD COLUMN groups TEXT;

-- After a node confirms a URL's purge: fetch the URL through it to check its `Age` (verify)
-- and/or to warm it (prefetch_after); the nodes whose answer had no `Age` (indices joined with
-- commas), and how many fetched the URL again.
ALTER TABLE tasks ADD COLUMN verify BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE tasks ADD COLUMN prefetch_after BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE tasks ADD COLUMN unverified TEXT;
-- The confirmed nodes whose warming fetch failed (the purge held), indices joined with commas.
ALTER TABLE tasks ADD COLUMN unprefetched TEXT;
ALTER TABLE tasks ADD COLUMN prefetched BIGINT NOT NULL DEFAULT 0;

-- Daily limits of the new kinds; NULL means the default.
ALTER TABLE users ADD COLUMN quota_tag BIGINT;
ALTER TABLE users ADD COLUMN quota_everything BIGINT;
ALTER TABLE users ADD COLUMN quota_prefetch BIGINT;

-- The callback URL is stored once, with the batch (it was copied into every task). A task whose
-- batch has one is `waiting` for its end instead of NULL; the end makes it `pending`.
UPDATE tasks SET callback_state = 'waiting'
    WHERE callback_url IS NOT NULL AND callback_state IS NULL;
ALTER TABLE tasks DROP COLUMN callback_url;
