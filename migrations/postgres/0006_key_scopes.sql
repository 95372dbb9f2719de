-- What an API key may do within its user's rights (engine/src/key_scope.rs): JSON
-- `{"domains": [...] | null, "kinds": [...] | null, "read_only": bool}`; NULL for a key without
-- limits, as every key made before was.
ALTER TABLE api_keys ADD COLUMN scope TEXT;
