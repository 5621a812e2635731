-- Schema version 11: token ids, expiry, revocation, last use.

-- The token's id: the first 12 hex digits of its hash, shown in audit
-- entries and used to revoke or rotate it. Never enough to use it.
ALTER TABLE tokens ADD COLUMN token_id TEXT;
UPDATE tokens SET token_id = substr(token_hash, 1, 12);
CREATE UNIQUE INDEX tokens_by_id ON tokens (token_id);
ALTER TABLE tokens ADD COLUMN expires_us INTEGER;
ALTER TABLE tokens ADD COLUMN revoked_us INTEGER;
-- Updated at most once a minute per token, off the request's path.
ALTER TABLE tokens ADD COLUMN last_used_us INTEGER;
