-- Only a bio's segments and their reasons are stored (package segments): the processor
-- drops profile descriptions from the payloads it stores (segments.StripBios). Posts
-- written before kept them in raw: a Mastodon account's note, an X v1 user's
-- description, a Bluesky profile's description, Bridgy Fed's original description.
-- This blanks those values (the keys stay, so the payloads remain valid JSON).
-- mutations_sync waits for the rewrite, so the upgrade is done when this returns.
ALTER TABLE chatnight.posts
    UPDATE raw = replaceRegexpAll(raw, '"(note|description|bridgyOriginalDescription)"(\\s*):(\\s*)"(?:[^"\\\\]|\\\\.)*"', '"\\1"\\2:\\3""')
    WHERE match(raw, '"(note|description|bridgyOriginalDescription)"\\s*:\\s*"(?:[^"\\\\]|\\\\.)+"')
    SETTINGS mutations_sync = 2;
