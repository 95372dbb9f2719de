-- A user's history filtered by status, newest first, at any depth of keyset paging (PostgreSQL
-- has had this index from its first migration).
CREATE INDEX tasks_user_status_seq ON tasks (user_id, status, seq);
