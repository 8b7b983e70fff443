-- A contact arriving while its customer is being merged away must land on the survivor.
-- cc_ingest read the identity's owner and then waited, on that customer's row lock, for the
-- merge to commit, and wrote the interaction and touchpoint under the merged-away customer
-- anyway (missing from the survivor's history; later contacts could join it). The same race
-- hit adding an identity and the Python find-or-create.
--
-- cc_live_customer locks the customer FOR KEY SHARE, which waits for a merge holding it FOR
-- UPDATE and then reads the committed row, and follows merged_into to the customer that is
-- live now. cc_ingest is restated whole below with one call added after the owner read; its
-- console event now goes through 0007's cc_agent_event and cc_touchpoint_json instead of a copy.

-- A touchpoint as consoles and the API show it (store.records.to_json), for the console event.
CREATE FUNCTION cc_touchpoint_json(t touchpoints) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'id', t.id, 'customer_id', t.customer_id, 'interaction_id', t.interaction_id, 'kind', t.kind,
        'channel', t.channel, 'actor_kind', t.actor_kind, 'actor_id', t.actor_id, 'body', t.body,
        'payload', t.payload, 'created_at', cc_iso(t.created_at))
$$;

CREATE FUNCTION cc_live_customer(p_id uuid) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid := p_id;
    v_next uuid;
BEGIN
    FOR i IN 1..16 LOOP  -- merge chains are short; the bound guards against a cycle
        SELECT c.merged_into INTO v_next FROM customers c WHERE c.id = v_id FOR KEY SHARE;
        IF v_next IS NULL THEN
            RETURN v_id;
        END IF;
        v_id := v_next;
    END LOOP;
    RAISE EXCEPTION 'customer % is merged in a cycle', p_id USING ERRCODE = 'data_exception';
END $$;

CREATE OR REPLACE FUNCTION cc_ingest(
    p_channel text, p_kind text, p_address text, p_display_name text, p_queue text,
    p_body text, p_subject text, p_dedupe_key text, p_thread_key text, p_join_open boolean,
    p_interaction_id uuid, p_priority double precision, p_payload jsonb, p_attributes jsonb,
    OUT o_interaction_id uuid, OUT o_customer_id uuid, OUT o_touchpoint_id bigint, OUT o_created boolean,
    OUT o_duplicate boolean, OUT o_agent_id uuid, OUT o_agent_seq bigint, OUT o_event jsonb,
    -- for a new interaction, what the router needs to queue it (no second read after commit)
    OUT o_tier text, OUT o_arrived double precision, OUT o_last_agent uuid)
LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_agent uuid;
    v_tp touchpoints%ROWTYPE;
BEGIN
    o_created := false;
    o_duplicate := false;
    IF p_dedupe_key IS NOT NULL THEN
        INSERT INTO inbound_dedupe AS d (channel, external_id) VALUES (p_channel, p_dedupe_key)
            ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            SELECT t.id, t.interaction_id, t.customer_id INTO o_touchpoint_id, o_interaction_id, o_customer_id
              FROM inbound_dedupe d JOIN touchpoints t ON t.id = d.touchpoint_id
             WHERE d.channel = p_channel AND d.external_id = p_dedupe_key;
            o_duplicate := true;
            RETURN;
        END IF;
    END IF;

    IF p_interaction_id IS NOT NULL THEN
        SELECT i.id, i.customer_id, i.state, i.agent_id INTO o_interaction_id, o_customer_id, v_state, v_agent
          FROM interactions i WHERE i.id = p_interaction_id FOR UPDATE;
        IF o_interaction_id IS NULL THEN
            RAISE EXCEPTION 'no such interaction: %', p_interaction_id USING ERRCODE = 'no_data_found';
        END IF;
    ELSE
        PERFORM pg_advisory_xact_lock(hashtextextended(p_kind || ':' || p_address, 0));
        SELECT ci.customer_id INTO o_customer_id FROM customer_identities ci
         WHERE ci.kind = p_kind AND ci.address = p_address;
        IF o_customer_id IS NOT NULL THEN
            o_customer_id := cc_live_customer(o_customer_id);  -- a merge may have moved it meanwhile
        END IF;
        IF o_customer_id IS NULL THEN
            INSERT INTO customers (display_name) VALUES (coalesce(p_display_name, '')) RETURNING id INTO o_customer_id;
            INSERT INTO customer_identities (kind, address, customer_id) VALUES (p_kind, p_address, o_customer_id);
        END IF;
        IF p_thread_key IS NOT NULL THEN
            SELECT i.id, i.state, i.agent_id INTO o_interaction_id, v_state, v_agent FROM interactions i
             WHERE i.channel = p_channel AND i.thread_key = p_thread_key
               AND i.state IN ('queued', 'offered', 'assigned', 'wrap_up')
             ORDER BY i.created_at DESC LIMIT 1 FOR UPDATE;
        END IF;
        IF o_interaction_id IS NULL AND p_join_open THEN
            SELECT i.id, i.state, i.agent_id INTO o_interaction_id, v_state, v_agent FROM interactions i
             WHERE i.channel = p_channel AND i.customer_id = o_customer_id
               AND i.state IN ('queued', 'offered', 'assigned', 'wrap_up')
             ORDER BY i.created_at DESC LIMIT 1 FOR UPDATE;
        END IF;
        IF o_interaction_id IS NULL THEN
            INSERT INTO interactions (channel, customer_id, queue, priority, subject, thread_key, attributes,
                                      created_at, arrived_at)
            VALUES (p_channel, o_customer_id, p_queue, coalesce(p_priority, 0), p_subject, p_thread_key,
                    coalesce(p_attributes, '{}'::jsonb), clock_timestamp(), clock_timestamp())
            RETURNING id, extract(epoch FROM arrived_at) INTO o_interaction_id, o_arrived;
            v_state := 'queued';
            o_created := true;
            SELECT c.tier INTO o_tier FROM customers c WHERE c.id = o_customer_id;
            SELECT i.agent_id INTO o_last_agent FROM interactions i
             WHERE i.customer_id = o_customer_id AND i.agent_id IS NOT NULL AND i.assigned_at IS NOT NULL
             ORDER BY i.assigned_at DESC LIMIT 1;
        END IF;
    END IF;

    INSERT INTO touchpoints (customer_id, interaction_id, kind, channel, actor_kind, actor_id, body, payload,
                             created_at)
    VALUES (o_customer_id, o_interaction_id, 'inbound_message', p_channel, 'customer', p_address, p_body,
            coalesce(p_payload, '{}'::jsonb), clock_timestamp())
    RETURNING * INTO v_tp;
    o_touchpoint_id := v_tp.id;
    IF p_dedupe_key IS NOT NULL THEN
        UPDATE inbound_dedupe SET touchpoint_id = v_tp.id WHERE channel = p_channel AND external_id = p_dedupe_key;
    END IF;
    IF v_agent IS NOT NULL AND v_state IN ('assigned', 'wrap_up') THEN
        o_event := jsonb_build_object('interaction_id', o_interaction_id, 'touchpoint', cc_touchpoint_json(v_tp));
        o_agent_seq := (cc_agent_event(v_agent, 'message', o_event)->>'seq')::bigint;  -- 0007's numbering
        o_agent_id := v_agent;
    END IF;
END $$;
