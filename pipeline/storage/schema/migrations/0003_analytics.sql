-- Consent and analytics. Opting out hides an account's posts and pseudonymizes the
-- account wherever chatnight shows it (viewer, API, transcripts, graph exports,
-- reports); nothing stored is deleted, so opting back in restores everything.

-- One row per opted-out account. subject is a handle (lower case, no '@') or an
-- account id ("x:123", "sim:ana"). `chatnight optout remove` writes a newer version
-- with deleted = 1; read with FINAL and keep deleted = 0.
CREATE TABLE IF NOT EXISTS chatnight.optouts
(
    subject    String,
    deleted    UInt8,
    updated_at DateTime64(3, 'UTC'),
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY subject;

-- The server-side salt of pseudonyms ("participant-" + a short hash of the account id),
-- so they are stable across processes and restarts but cannot be reversed by hashing
-- known ids. The oldest row wins; every process inserts one if there is none.
CREATE TABLE IF NOT EXISTS chatnight.pseudonym_salt
(
    salt       String,
    created_at DateTime64(9, 'UTC')
)
ENGINE = MergeTree
ORDER BY created_at;
