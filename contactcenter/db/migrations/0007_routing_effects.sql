-- One round trip per routing batch: cc_route_apply writes everything a batch of routing
-- events and decisions changed (interaction states, the touchpoints recording them in
-- the customer's history, agent states, and the numbered console events) in order,
-- inside the caller's statement. The Python side (contactcenter/acd/effects.py) still
-- decides what to write from the router's decisions; this only replaces the six to ten
-- client-server round trips per decision, which serialised the router, with one call.
--
-- p_ops is a JSON array of operations, applied in order. An interaction operation:
--   {"id": uuid,
--    "only_in": [state, ...]          skip the whole operation unless the interaction is in one of these
--    "state": state                   move it (stamping offered_at/assigned_at/ended_at/closed_at)
--    "move_if": [state, ...]          ... but only when it is in one of these (touchpoints still written)
--    "agent": uuid | null             with the move: set agent_id (only when the key is present)
--    "queue": text, "disposition": text   with the move: set these
--    "touchpoints": [{"kind", "actor_kind", "actor_id", "body", "payload",
--                     "add": ["from_agent", "from_queue", "state"]}]   payload facts read from the row
--    "notify": {"agent": uuid | null (null: the agent it had before), "type", "payload",
--               "summary": true (payload.interaction = cc_summary of the interaction),
--               "before_in": [state, ...] (only if the interaction was in one of these before the move)}
--    "agent_name": uuid               return this agent's display name}
-- An agent operation: {"agent_state": uuid, "state": text, "reason": text}.
-- It returns one row per operation: (n, result) with result
--   {"applied", "id", "channel", "queue", "thread_key", "customer_id", "answered_after_s",
--    "agent_name", "events": [{"agent", "seq", "type", "payload"}]}.

CREATE FUNCTION cc_iso(p_at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
$$;

-- What a console shows of an interaction (offers, assignments, the open list). plpgsql, not
-- sql: called once per offer from cc_route_apply, a sql function would be planned every call.
CREATE FUNCTION cc_summary(p_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (
        SELECT jsonb_build_object(
            'id', i.id, 'channel', i.channel, 'queue', i.queue, 'state', i.state, 'subject', i.subject,
            'priority', i.priority, 'disposition', i.disposition, 'arrived_at', cc_iso(i.arrived_at),
            'preview', (SELECT left(t.body, 200) FROM touchpoints t
                         WHERE t.interaction_id = i.id AND t.kind = 'inbound_message' ORDER BY t.id DESC LIMIT 1),
            'customer', jsonb_build_object('id', c.id, 'name', c.display_name, 'tier', c.tier))
          FROM interactions i JOIN customers c ON c.id = i.customer_id
         WHERE i.id = p_id);
END $$;

-- The next numbered console event of an agent, as cc_route_apply returns it. One statement:
-- the agents row lock taken by the UPDATE is held to commit, so numbers commit in order.
CREATE FUNCTION cc_agent_event(p_agent uuid, p_type text, p_payload jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_seq bigint;
BEGIN
    WITH next AS (UPDATE agents SET event_seq = event_seq + 1 WHERE id = p_agent RETURNING event_seq)
    INSERT INTO agent_events (agent_id, seq, type, payload)
    SELECT p_agent, next.event_seq, p_type, p_payload FROM next
    RETURNING seq INTO v_seq;
    IF v_seq IS NULL THEN
        RAISE EXCEPTION 'no such agent: %', p_agent USING ERRCODE = 'no_data_found';
    END IF;
    RETURN jsonb_build_object('agent', p_agent, 'seq', v_seq, 'type', p_type, 'payload', p_payload);
END $$;

CREATE FUNCTION cc_route_apply(p_ops jsonb, OUT n bigint, OUT result jsonb) RETURNS SETOF record
LANGUAGE plpgsql AS $$
DECLARE
    v_op jsonb;
    v_id uuid;
    v_row interactions%ROWTYPE;
    v_before_agent uuid;
    v_before_queue text;
    v_state text;
    v_agent uuid;
    v_tp jsonb;
    v_payload jsonb;
    v_notify jsonb;
    v_events jsonb;
    v_facts jsonb;
    v_read boolean;
    v_before_state text;
BEGIN
    FOR v_op, n IN SELECT o.value, o.ordinality FROM jsonb_array_elements(p_ops) WITH ORDINALITY o LOOP
        v_events := '[]'::jsonb;
        IF v_op ? 'agent_state' THEN
            v_agent := (v_op->>'agent_state')::uuid;
            UPDATE agents SET state = v_op->>'state', state_reason = v_op->>'reason',
                              state_since = clock_timestamp(), updated_at = now()
             WHERE id = v_agent;
            INSERT INTO agent_state_log (agent_id, state, reason) VALUES (v_agent, v_op->>'state', v_op->>'reason');
            v_events := jsonb_build_array(cc_agent_event(v_agent, 'state',
                jsonb_build_object('state', v_op->>'state', 'reason', v_op->'reason')));
            result := jsonb_build_object('applied', true, 'events', v_events);
            RETURN NEXT;
            CONTINUE;
        END IF;

        v_id := (v_op->>'id')::uuid;
        v_state := v_op->>'state';
        v_notify := v_op->'notify';
        v_read := false;
        -- Most moves (offer, accept, end, close) need nothing of the row before them: one UPDATE.
        -- A guarded move, a payload fact of the old row, or a notice to the agent the move takes
        -- the interaction from, reads (and locks) the row first.
        IF v_state IS NULL OR v_op ? 'only_in' OR v_op ? 'move_if'
           OR jsonb_path_exists(coalesce(v_op->'touchpoints', '[]'::jsonb), '$[*].add')
           OR (v_notify IS NOT NULL AND (v_notify ? 'before_in'
                                         OR (v_op ? 'agent' AND v_notify->>'agent' IS NULL))) THEN
            SELECT * INTO v_row FROM interactions WHERE id = v_id FOR UPDATE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'no such interaction: %', v_id USING ERRCODE = 'no_data_found';
            END IF;
            v_read := true;
            IF v_op ? 'only_in' AND NOT (v_op->'only_in') ? v_row.state THEN
                result := jsonb_build_object('applied', false, 'events', v_events);
                RETURN NEXT;
                CONTINUE;
            END IF;
            v_before_agent := v_row.agent_id;
            v_before_queue := v_row.queue;
            v_before_state := v_row.state;
            IF v_op ? 'move_if' AND NOT (v_op->'move_if') ? v_row.state THEN
                v_state := NULL;
            END IF;
        END IF;

        IF v_state IS NOT NULL THEN
            UPDATE interactions SET
                state = v_state,
                offered_at = CASE WHEN v_state = 'offered' THEN clock_timestamp() ELSE offered_at END,
                assigned_at = CASE WHEN v_state = 'assigned' THEN clock_timestamp() ELSE assigned_at END,
                ended_at = CASE WHEN v_state = 'wrap_up' THEN clock_timestamp() ELSE ended_at END,
                closed_at = CASE WHEN v_state IN ('closed', 'abandoned') THEN clock_timestamp() ELSE closed_at END,
                agent_id = CASE WHEN v_op ? 'agent' THEN (v_op->>'agent')::uuid ELSE agent_id END,
                queue = coalesce(v_op->>'queue', queue),
                disposition = coalesce(v_op->>'disposition', disposition)
             WHERE id = v_id
            RETURNING * INTO v_row;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'no such interaction: %', v_id USING ERRCODE = 'no_data_found';
            END IF;
            IF NOT v_read THEN  -- then only read where the move kept the agent (see the test above)
                v_before_agent := v_row.agent_id;
                v_before_queue := v_row.queue;
            END IF;
        END IF;

        FOR v_tp IN SELECT jsonb_array_elements(coalesce(v_op->'touchpoints', '[]'::jsonb)) LOOP
            v_payload := coalesce(v_tp->'payload', '{}'::jsonb);
            IF v_tp ? 'add' THEN
                v_facts := jsonb_build_object('from_agent', v_before_agent, 'from_queue', v_before_queue,
                                              'state', v_row.state);
                SELECT v_payload || coalesce(jsonb_object_agg(f.key, f.value), '{}'::jsonb) INTO v_payload
                  FROM jsonb_each(v_facts) f WHERE (v_tp->'add') ? f.key;
            END IF;
            INSERT INTO touchpoints (customer_id, interaction_id, kind, channel, actor_kind, actor_id, body,
                                     payload, created_at)
            VALUES (v_row.customer_id, v_row.id, v_tp->>'kind', v_row.channel, v_tp->>'actor_kind',
                    v_tp->>'actor_id', v_tp->>'body', v_payload, clock_timestamp());
        END LOOP;

        IF v_notify IS NOT NULL THEN
            v_agent := coalesce((v_notify->>'agent')::uuid, v_before_agent);
            IF v_notify ? 'before_in' AND NOT (v_notify->'before_in') ? v_before_state THEN
                v_agent := NULL;
            END IF;
            IF v_agent IS NOT NULL THEN
                v_payload := coalesce(v_notify->'payload', '{}'::jsonb);
                IF (v_notify->>'summary')::boolean THEN
                    v_payload := v_payload || jsonb_build_object('interaction', cc_summary(v_id));
                END IF;
                v_events := jsonb_build_array(cc_agent_event(v_agent, v_notify->>'type', v_payload));
            END IF;
        END IF;

        result := jsonb_build_object(
            'applied', true, 'id', v_row.id, 'channel', v_row.channel, 'queue', v_row.queue,
            'thread_key', v_row.thread_key, 'customer_id', v_row.customer_id,
            'answered_after_s', extract(epoch FROM v_row.assigned_at - v_row.arrived_at),
            'agent_name', CASE WHEN v_op ? 'agent_name' THEN
                (SELECT a.display_name FROM agents a WHERE a.id = (v_op->>'agent_name')::uuid) END,
            'events', v_events);
        RETURN NEXT;
    END LOOP;
END $$;
