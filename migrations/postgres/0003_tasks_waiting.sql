-- What claims look up, however long the queue and however many finished tasks there are:
-- tasks waiting to be claimed, per user in order (claims find the users with waiting tasks by
-- skipping through it, one seek per user, and take each one's oldest tasks), and the leases of
-- running tasks (those that ran out are taken over).
CREATE INDEX tasks_waiting ON tasks (user_id, seq) WHERE status = 'created';
CREATE INDEX tasks_leased ON tasks (lease_expires_at) WHERE status = 'running';
