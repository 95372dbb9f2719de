-- The dashboard language a user chose (a BCP 47 tag such as zh-CN); NULL: the browser's.
ALTER TABLE users ADD COLUMN locale TEXT;
