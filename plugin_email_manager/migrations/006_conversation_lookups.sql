-- Migration 6 (email_manager): the subject-key index of mail_threads without GIN's pending list.
-- Below this header, the text is exactly as it first ran: databases record its checksum.

-- Every batch of the sync looks conversations up by subject key. With GIN's fast update, new
-- keys wait in a pending list that each lookup reads from end to end until VACUUM folds it in:
-- during a first sync, a third of a batch's threading time. The keys of one conversation are
-- a handful of short strings: inserting them into the tree at once costs little.
ALTER INDEX mail_threads_subject_keys_idx SET (fastupdate = off);
