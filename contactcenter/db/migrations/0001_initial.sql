-- The customer history store: customers and their identities, agents and their
-- sessions, interactions, the append-only touchpoint log, inbound dedupe keys
-- and the outbound outbox.

CREATE TABLE customers (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    display_name    text NOT NULL DEFAULT '',
    tier            text NOT NULL DEFAULT 'standard',
    loyalty_points  bigint NOT NULL DEFAULT 0,
    attributes      jsonb NOT NULL DEFAULT '{}'::jsonb,
    merged_into     uuid REFERENCES customers (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE customer_identities (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('email', 'phone', 'chat', 'sip')),
    address      text NOT NULL,
    customer_id  uuid NOT NULL REFERENCES customers (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, address)
);
CREATE INDEX customer_identities_customer ON customer_identities (customer_id);

CREATE TABLE agents (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    login          text NOT NULL UNIQUE,
    display_name   text NOT NULL,
    role           text NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
    password_hash  text NOT NULL,
    skills         jsonb NOT NULL DEFAULT '{}'::jsonb,
    capacity       jsonb NOT NULL DEFAULT '{}'::jsonb,
    sip_uri        text,
    state          text NOT NULL DEFAULT 'offline' CHECK (state IN ('available', 'away', 'offline')),
    state_reason   text,
    state_since    timestamptz NOT NULL DEFAULT now(),
    disabled       boolean NOT NULL DEFAULT false,
    event_seq      bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agent_sessions (
    token_hash    bytea PRIMARY KEY,
    agent_id      uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    user_agent    text,
    remote_addr   text
);
CREATE INDEX agent_sessions_agent ON agent_sessions (agent_id);

CREATE TABLE interactions (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    channel                 text NOT NULL CHECK (channel IN ('voice', 'chat', 'sms', 'email')),
    customer_id             uuid NOT NULL REFERENCES customers (id),
    queue                   text NOT NULL,
    state                   text NOT NULL DEFAULT 'queued'
                            CHECK (state IN ('queued', 'offered', 'assigned', 'wrap_up', 'closed', 'abandoned')),
    priority                double precision NOT NULL DEFAULT 0,
    subject                 text,
    thread_key              text,
    agent_id                uuid REFERENCES agents (id),
    disposition             text,
    linked_interaction_id   uuid REFERENCES interactions (id),
    attributes              jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at              timestamptz NOT NULL DEFAULT now(),
    arrived_at              timestamptz NOT NULL DEFAULT now(),
    offered_at              timestamptz,
    assigned_at             timestamptz,
    ended_at                timestamptz,
    closed_at               timestamptz
);
CREATE INDEX interactions_customer ON interactions (customer_id, created_at DESC);
CREATE INDEX interactions_open ON interactions (state) WHERE state IN ('queued', 'offered', 'assigned', 'wrap_up');
CREATE INDEX interactions_agent_open ON interactions (agent_id) WHERE state IN ('offered', 'assigned', 'wrap_up');
CREATE INDEX interactions_thread ON interactions (channel, thread_key) WHERE thread_key IS NOT NULL;

-- Append-only: a touchpoint's content never changes. The only update allowed
-- is moving it to another customer when two customers are merged.
CREATE TABLE touchpoints (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id     uuid NOT NULL REFERENCES customers (id),
    interaction_id  uuid REFERENCES interactions (id),
    kind            text NOT NULL,
    channel         text,
    actor_kind      text NOT NULL CHECK (actor_kind IN ('customer', 'agent', 'system')),
    actor_id        text,
    body            text,
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX touchpoints_customer_history ON touchpoints (customer_id, created_at DESC, id DESC);
CREATE INDEX touchpoints_interaction ON touchpoints (interaction_id, id) WHERE interaction_id IS NOT NULL;

CREATE FUNCTION touchpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'touchpoints are append-only';
    END IF;
    IF (NEW.id, NEW.interaction_id, NEW.kind, NEW.channel, NEW.actor_kind, NEW.actor_id, NEW.body,
        NEW.payload, NEW.created_at)
       IS DISTINCT FROM
       (OLD.id, OLD.interaction_id, OLD.kind, OLD.channel, OLD.actor_kind, OLD.actor_id, OLD.body,
        OLD.payload, OLD.created_at) THEN
        RAISE EXCEPTION 'touchpoints are append-only (only customer_id may change, on merge)';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER touchpoints_append_only BEFORE UPDATE OR DELETE ON touchpoints
    FOR EACH ROW EXECUTE FUNCTION touchpoints_append_only();

CREATE TABLE inbound_dedupe (
    channel        text NOT NULL,
    external_id    text NOT NULL,
    touchpoint_id  bigint REFERENCES touchpoints (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, external_id)
);

CREATE TABLE outbox (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel          text NOT NULL,
    interaction_id   uuid REFERENCES interactions (id),
    touchpoint_id    bigint REFERENCES touchpoints (id),
    payload          jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz
);
CREATE INDEX outbox_due ON outbox (channel, next_attempt_at) WHERE status = 'pending';

-- Everything the server tells an agent's console, numbered per agent, so a
-- console that reconnects with the last number it saw gets every event after
-- it exactly once and in order, across network blips and server restarts.
-- The number comes from agents.event_seq, whose row lock orders writers.
CREATE TABLE agent_events (
    agent_id    uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    seq         bigint NOT NULL,
    type        text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, seq)
);

-- Agent presence history, for occupancy and time-in-state reports.
CREATE TABLE agent_state_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id    uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    state       text NOT NULL,
    reason      text,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX agent_state_log_agent ON agent_state_log (agent_id, created_at);
