-- SMS: who opted out of texts (per gateway and customer number), and the
-- provider's id of every message a gateway accepted, so delivery receipts find
-- their message and a retried send after a crash is not sent twice.

CREATE TABLE sms_opt_outs (
    gateway     text NOT NULL,
    number      text NOT NULL,                 -- the customer's number, E.164
    opted_out   boolean NOT NULL,
    keyword     text,                          -- what they texted, as written
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (gateway, number)
);

CREATE TABLE sms_messages (
    gateway      text NOT NULL,
    provider_id  text NOT NULL,                -- Twilio's MessageSid, or the webhook gateway's id
    outbox_id    bigint NOT NULL UNIQUE REFERENCES outbox (id),
    sender       text NOT NULL,                -- our number
    recipient    text NOT NULL,                -- the customer's number
    segments     integer NOT NULL,
    encoding     text NOT NULL CHECK (encoding IN ('gsm7', 'ucs2')),
    last_status  text NOT NULL DEFAULT 'accepted',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (gateway, provider_id)
);
