-- Web-chat visitors: the browser that holds a widget token.
--
-- The token itself never reaches the database, only its SHA-256: a leaked
-- backup cannot be replayed to read someone's conversation. visitor_id is the
-- stable, non-secret name of the visitor: it is the customer identity
-- (customer_identities kind 'chat', address = visitor_id) and the thread key
-- of the visitor's conversations ('visitor:' || visitor_id). The customer is
-- found through that identity rather than stored here, so a customer merge or
-- a pre-chat e-mail link is followed without updating this table.
CREATE TABLE chat_visitors (
    token_hash    bytea PRIMARY KEY,
    visitor_id    text NOT NULL UNIQUE,
    widget        text NOT NULL,
    prechat       jsonb,                 -- what the pre-chat form gave: name, email, phone, topic
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now()
);
