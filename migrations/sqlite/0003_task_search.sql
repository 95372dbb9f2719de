-- Substring search over task targets (the history's text filter) without scanning every task:
-- an FTS5 trigram index kept in step with `tasks` by triggers. Targets are never updated.
CREATE VIRTUAL TABLE task_search USING fts5(target, content = 'tasks', content_rowid = 'seq', tokenize = 'trigram');
INSERT INTO task_search (task_search) VALUES ('rebuild');

CREATE TRIGGER tasks_search_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO task_search (rowid, target) VALUES (new.seq, new.target);
END;

CREATE TRIGGER tasks_search_delete AFTER DELETE ON tasks BEGIN
    INSERT INTO task_search (task_search, rowid, target) VALUES ('delete', old.seq, old.target);
END;
