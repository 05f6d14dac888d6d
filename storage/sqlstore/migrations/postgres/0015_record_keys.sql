-- minishop records: keys compare bytewise, whatever the database's default
-- collation, so a range of keys (RecordsBetween: a statement's entries)
-- holds exactly the keys between its bounds. SQLite (BINARY) and MySQL
-- (utf8mb4_bin) compare bytewise already.
ALTER TABLE {p}wechat_records ALTER COLUMN rkey TYPE TEXT COLLATE "C";
