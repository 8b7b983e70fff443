-- Voice channel: the agents' softphone credentials and registrations.
--
-- An agent's softphone registers with the agent's login as SIP user name and
-- authenticates with HTTP digest. Digest only needs HA1 = H(login:realm:password),
-- so that is what is stored, never the password: a leaked table does not leak a
-- password reused elsewhere. HA1 is bound to the realm it was computed for
-- (sip_realm); after changing channels.voice.sip.realm, set the SIP passwords again.

ALTER TABLE agents
    ADD COLUMN sip_realm       text,
    ADD COLUMN sip_ha1_md5     text CHECK (sip_ha1_md5 ~ '^[0-9a-f]{32}$'),
    ADD COLUMN sip_ha1_sha256  text CHECK (sip_ha1_sha256 ~ '^[0-9a-f]{64}$');

-- Where each agent's softphones can be reached: one row per (user, contact),
-- refreshed by every REGISTER. The registrar keeps its working copy in memory
-- and is reloaded from here at start-up, so a restart does not lose the phones.
CREATE TABLE sip_registrations (
    username    text NOT NULL,
    contact     text NOT NULL,
    expires_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (username, contact)
);
CREATE INDEX sip_registrations_expiry ON sip_registrations (expires_at);
