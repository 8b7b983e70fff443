-- One round trip per agent reply: cc_agent_reply does the whole reply unit of work (the
-- ownership check, the dedupe claim on the agent's client_msg_id, the outbound touchpoint,
-- the outbox row for channels delivered by a sender, and the numbered "ack" console event)
-- inside the caller's statement. Called on its own outside a transaction, the statement is
-- its own transaction; the rules are those of the former AgentActions._reply, only the
-- seven client-server round trips (BEGIN, read, claim, insert, link, enqueue + event,
-- COMMIT) became one.
--
-- Reply guards (SMS opt-out) are Python code that must run inside the reply's transaction,
-- so the function cannot run them: p_guarded names the channels that have one, and for an
-- interaction on such a channel the function writes nothing and answers o_guarded. The
-- caller then opens a transaction, runs the guard and calls this function again with no
-- guarded channels, so there is one write path either way.
--
-- A refusal is an answer, not an exception: o_error is 'unknown_interaction' or
-- 'not_assigned' (nothing was written), and the caller raises the console error.
-- Otherwise the interaction as read for the check comes back in the i_* columns (for the
-- channel's outbound hook), the new touchpoint in the t_* columns (all NULL for a
-- duplicate), and the ack event's number and payload in o_seq and o_event.

CREATE FUNCTION cc_agent_reply(
    p_agent_id uuid, p_interaction_id uuid, p_text text, p_client_msg_id text, p_agent_name text,
    p_dedupe_key text, p_guarded text[],
    OUT o_error text, OUT o_guarded boolean, OUT o_duplicate boolean,
    OUT i_id uuid, OUT i_channel text, OUT i_customer_id uuid, OUT i_queue text, OUT i_state text,
    OUT i_priority double precision, OUT i_subject text, OUT i_thread_key text, OUT i_agent_id uuid,
    OUT i_disposition text, OUT i_linked_interaction_id uuid, OUT i_attributes jsonb,
    OUT i_created_at timestamptz, OUT i_arrived_at timestamptz, OUT i_offered_at timestamptz,
    OUT i_assigned_at timestamptz, OUT i_ended_at timestamptz, OUT i_closed_at timestamptz,
    OUT t_id bigint, OUT t_customer_id uuid, OUT t_interaction_id uuid, OUT t_kind text, OUT t_channel text,
    OUT t_actor_kind text, OUT t_actor_id text, OUT t_body text, OUT t_payload jsonb, OUT t_created_at timestamptz,
    OUT o_seq bigint, OUT o_event jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    v_i interactions%ROWTYPE;
    v_tp touchpoints%ROWTYPE;
    v_duplicate_of bigint;
BEGIN
    o_guarded := false;
    o_duplicate := false;
    -- The ownership check reads without a lock, as the Python check did: a reply races a
    -- transfer or close the same way it did before.
    SELECT * INTO v_i FROM interactions WHERE id = p_interaction_id;
    IF NOT FOUND THEN
        o_error := 'unknown_interaction';
        RETURN;
    END IF;
    IF v_i.agent_id IS DISTINCT FROM p_agent_id OR v_i.state NOT IN ('assigned', 'wrap_up') THEN
        o_error := 'not_assigned';
        RETURN;
    END IF;
    i_id := v_i.id; i_channel := v_i.channel; i_customer_id := v_i.customer_id; i_queue := v_i.queue;
    i_state := v_i.state; i_priority := v_i.priority; i_subject := v_i.subject; i_thread_key := v_i.thread_key;
    i_agent_id := v_i.agent_id; i_disposition := v_i.disposition;
    i_linked_interaction_id := v_i.linked_interaction_id; i_attributes := v_i.attributes;
    i_created_at := v_i.created_at; i_arrived_at := v_i.arrived_at; i_offered_at := v_i.offered_at;
    i_assigned_at := v_i.assigned_at; i_ended_at := v_i.ended_at; i_closed_at := v_i.closed_at;
    IF v_i.channel = ANY (p_guarded) THEN
        o_guarded := true;  -- the guard runs first, in the caller's transaction; nothing written yet
        RETURN;
    END IF;

    INSERT INTO inbound_dedupe (channel, external_id) VALUES ('agent_reply', p_dedupe_key) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        -- The same client_msg_id again (a console resending after a reconnect): stored once, acked again.
        SELECT d.touchpoint_id INTO v_duplicate_of FROM inbound_dedupe d
         WHERE d.channel = 'agent_reply' AND d.external_id = p_dedupe_key;
        o_duplicate := true;
        o_event := jsonb_build_object('client_msg_id', p_client_msg_id, 'touchpoint_id', v_duplicate_of,
                                      'duplicate', true);
    ELSE
        INSERT INTO touchpoints (customer_id, interaction_id, kind, channel, actor_kind, actor_id, body, payload,
                                 created_at)
        VALUES (v_i.customer_id, v_i.id, 'outbound_message', v_i.channel, 'agent', p_agent_id::text, p_text,
                jsonb_build_object('agent_name', p_agent_name, 'client_msg_id', p_client_msg_id), clock_timestamp())
        RETURNING * INTO v_tp;
        UPDATE inbound_dedupe SET touchpoint_id = v_tp.id WHERE channel = 'agent_reply' AND external_id = p_dedupe_key;
        IF v_i.channel <> 'chat' THEN
            -- chat is pushed to the visitor's websocket by the outbound hook; the others have a sender
            INSERT INTO outbox (channel, interaction_id, touchpoint_id, payload)
            VALUES (v_i.channel, v_i.id, v_tp.id, jsonb_build_object('text', p_text));
        END IF;
        t_id := v_tp.id; t_customer_id := v_tp.customer_id; t_interaction_id := v_tp.interaction_id;
        t_kind := v_tp.kind; t_channel := v_tp.channel; t_actor_kind := v_tp.actor_kind; t_actor_id := v_tp.actor_id;
        t_body := v_tp.body; t_payload := v_tp.payload; t_created_at := v_tp.created_at;
        o_event := jsonb_build_object(
            'client_msg_id', p_client_msg_id, 'touchpoint_id', v_tp.id, 'interaction_id', v_i.id,
            'touchpoint', jsonb_build_object(
                'id', v_tp.id, 'customer_id', v_tp.customer_id, 'interaction_id', v_tp.interaction_id,
                'kind', v_tp.kind, 'channel', v_tp.channel, 'actor_kind', v_tp.actor_kind,
                'actor_id', v_tp.actor_id, 'body', v_tp.body, 'payload', v_tp.payload,
                'created_at', cc_iso(v_tp.created_at)));
    END IF;

    -- Numbered as every console event is (cc_agent_event, migration 0007): the agents row lock is
    -- held to commit, so numbers commit in order.
    o_seq := (cc_agent_event(p_agent_id, 'ack', o_event)->>'seq')::bigint;
END $$;
