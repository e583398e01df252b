-- Migration 1 (email_manager): the indexes on mail_messages that the sync's upsert, Message-ID
-- lookups, a conversation's messages, the folder lists and the unread badge read.
-- Below this header, the text is exactly as it first ran: databases record its checksum.

-- the sync's upsert target; uid is NULL for a sent copy not yet seen on the server
CREATE UNIQUE INDEX IF NOT EXISTS mail_messages_folder_uid_key ON mail_messages (folder_id, uid);
-- Message-ID lookups (adopting local copies, replies). A hash index: a hostile Message-ID of
-- kilobytes would not fit a btree entry and would stop the sync; Message-IDs are near-unique.
CREATE INDEX IF NOT EXISTS mail_messages_message_id_hash ON mail_messages USING hash (message_id);
-- a conversation's messages (getThread, a row's counts, keeping heads)
CREATE INDEX IF NOT EXISTS mail_messages_thread_idx ON mail_messages (thread_id, date, id);
-- one folder type of an account, newest first (filtered lists, the generic list)
CREATE INDEX IF NOT EXISTS mail_messages_account_type_date_idx
    ON mail_messages (account_id, type, date DESC, id DESC) INCLUDE (thread_id);
-- unread mail: the badge and the unread filter read only these entries
CREATE INDEX IF NOT EXISTS mail_messages_unread_idx
    ON mail_messages (account_id, date DESC) INCLUDE (id, thread_id, type) WHERE NOT read;
