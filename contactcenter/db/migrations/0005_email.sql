-- E-mail channel: where each mailbox's IMAP sync stands, the Message-IDs that
-- thread replies, raw copies of messages that need a human look, attachments,
-- and when each sender was last sent an automatic acknowledgement.

-- Per mailbox: the folder's UIDVALIDITY and the highest UID whose message is
-- committed. Written in the same transaction as the messages it covers, so a
-- crash never skips a message; when UIDVALIDITY changes, UIDs start over and
-- Message-IDs (below) keep the refetched messages from being stored twice.
CREATE TABLE email_mailbox_state (
    mailbox      text PRIMARY KEY,
    uidvalidity  bigint NOT NULL,
    last_uid     bigint NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Every Message-ID we received ('in') or sent ('out'), and its interaction.
-- Replies find their conversation here through In-Reply-To / References; a
-- bounce finds the outbound message (and outbox row) it reports on. Outbound
-- ids are written before the message is handed to SMTP, so a resend after a
-- crash reuses the id and the customer's client sees one message.
CREATE TABLE email_message_ids (
    message_id      text NOT NULL,
    mailbox         text NOT NULL,
    direction       text NOT NULL CHECK (direction IN ('in', 'out')),
    interaction_id  uuid REFERENCES interactions (id),
    touchpoint_id   bigint REFERENCES touchpoints (id),
    outbox_id       bigint REFERENCES outbox (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, mailbox, direction)
);
CREATE INDEX email_message_ids_outbox ON email_message_ids (outbox_id) WHERE outbox_id IS NOT NULL;

-- The bytes as received, for messages that could not be parsed cleanly (review).
CREATE TABLE email_raw (
    touchpoint_id  bigint PRIMARY KEY REFERENCES touchpoints (id),
    mailbox        text NOT NULL,
    uidvalidity    bigint NOT NULL,
    uid            bigint NOT NULL,
    raw            bytea NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Attachments of inbound messages. data is NULL when the attachment is over the
-- mailbox's max_attachment_bytes: name, type, size and hash are still exact.
CREATE TABLE email_attachments (
    touchpoint_id  bigint NOT NULL REFERENCES touchpoints (id),
    position       integer NOT NULL,
    filename       text,
    content_type   text NOT NULL,
    size           bigint NOT NULL,
    sha256         text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_id     text,
    inline         boolean NOT NULL,
    data           bytea,
    PRIMARY KEY (touchpoint_id, position)
);

-- The automatic acknowledgement goes at most once per sender per period.
CREATE TABLE email_auto_acks (
    mailbox       text NOT NULL,
    sender        text NOT NULL,
    last_sent_at  timestamptz NOT NULL,
    PRIMARY KEY (mailbox, sender)
);
