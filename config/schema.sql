-- tcpdp's PostgreSQL schema: what `tcpdp pg-schema` prints and what tcpdp creates when
-- [pg] createSchema is true. Every statement can run again on an existing schema: tables and
-- indexes are created only when missing, functions and views are replaced.
--
-- tcpdp sends its records as they are written to conn.log and dump.log (JSON), in batches, to
-- tcpdp_insert(); the mapping from record keys to columns lives here, on the server.

CREATE TABLE IF NOT EXISTS tcp_events (
  uid         TEXT NOT NULL,         -- conn_id.N: the connection's N-th state change
  host        TEXT NOT NULL,         -- the sensor's host name
  "timestamp" TIMESTAMPTZ NOT NULL,
  pid_on_cpu  INTEGER,               -- audit: the task on the CPU at the change (NULL from
  comm_on_cpu TEXT,                  -- packets or sockets, which cannot know it) and its name
  src_ip      INET,                  -- the client (the side that opened the connection)
  dst_ip      INET,
  src_port    INTEGER,
  dst_port    INTEGER,
  old_state   TEXT NOT NULL,
  new_state   TEXT NOT NULL,
  conn_id     TEXT NOT NULL,
  side        TEXT NOT NULL,         -- whose state changed: client or server
  PRIMARY KEY (uid, host)
);
CREATE INDEX IF NOT EXISTS tcp_events_timestamp ON tcp_events ("timestamp");
CREATE INDEX IF NOT EXISTS tcp_events_src_ip ON tcp_events USING gist (src_ip inet_ops);
CREATE INDEX IF NOT EXISTS tcp_events_dst ON tcp_events (dst_ip, dst_port);
CREATE INDEX IF NOT EXISTS tcp_events_conn_id ON tcp_events (conn_id);

CREATE TABLE IF NOT EXISTS tcp_connections (
  conn_id       TEXT NOT NULL,
  host          TEXT NOT NULL,
  start_time    TIMESTAMPTZ NOT NULL,  -- the first packet (proxy: the accept)
  end_time      TIMESTAMPTZ,
  duration      DOUBLE PRECISION,      -- seconds
  src_ip        INET,                  -- the client
  src_port      INTEGER,
  dst_ip        INET,                  -- the server (proxy: the address the client connected to)
  dst_port      INTEGER,
  remote_addr   TEXT,                  -- proxy: where the connection was relayed to
  proxy_protocol_src_addr TEXT,        -- the client a load balancer's PROXY header named
  conn_state    TEXT,                  -- Zeek's codes: SF, S0, REJ, RSTO, ...
  history       TEXT,
  client_state  TEXT,
  server_state  TEXT,
  closed_by     TEXT,
  close_reason  TEXT,
  mid_stream    BOOLEAN,
  client_bytes  BIGINT,
  server_bytes  BIGINT,                -- proxy: the bytes relayed to the client
  client_packets BIGINT,
  server_packets BIGINT,
  missed_bytes  BIGINT,
  handshake_rtt DOUBLE PRECISION,
  username      TEXT,
  database      TEXT,
  client_pid    INTEGER,
  client_comm   TEXT,
  client_uid    INTEGER,
  client_user   TEXT,
  server_pid    INTEGER,
  server_comm   TEXT,
  server_uid    INTEGER,
  server_user   TEXT,
  record        JSONB NOT NULL,        -- the whole summary record, every key
  PRIMARY KEY (conn_id, host)
);
-- audit: a connect() that never reached ESTABLISHED (tables made before audit get the column).
ALTER TABLE tcp_connections ADD COLUMN IF NOT EXISTS connect_failed BOOLEAN;
CREATE INDEX IF NOT EXISTS tcp_connections_start_time ON tcp_connections (start_time);
CREATE INDEX IF NOT EXISTS tcp_connections_src_ip ON tcp_connections USING gist (src_ip inet_ops);
CREATE INDEX IF NOT EXISTS tcp_connections_dst ON tcp_connections (dst_ip, dst_port);

CREATE TABLE IF NOT EXISTS queries (
  id            BIGSERIAL PRIMARY KEY,
  host          TEXT NOT NULL,
  conn_id       TEXT NOT NULL,
  ts            TIMESTAMPTZ NOT NULL,  -- the message's first packet
  src_ip        INET,                  -- the client
  src_port      INTEGER,
  dst_ip        INET,
  dst_port      INTEGER,
  username      TEXT,
  database      TEXT,
  message_type  TEXT,                  -- pg: Q, P, B, E, ...; mysql: COM_QUERY, COM_STMT_EXECUTE, ...
  query         TEXT,                  -- the SQL text (pg: query, parse_query or execute_query;
                                       -- mysql: query or stmt_prepare_query)
  bind_values   JSONB,                 -- pg: bind_values; mysql: stmt_execute_values
  rows          BIGINT,
  error         TEXT,                  -- pg: the SQLSTATE (sql_state); mysql: the error number
  error_message TEXT,
  duration      DOUBLE PRECISION,      -- seconds, to the answer
  record        JSONB NOT NULL         -- the whole dump record, every key
);
CREATE INDEX IF NOT EXISTS queries_ts ON queries (ts);
CREATE INDEX IF NOT EXISTS queries_conn_id ON queries (conn_id);
CREATE INDEX IF NOT EXISTS queries_src_ip ON queries USING gist (src_ip inet_ops);

CREATE TABLE IF NOT EXISTS query_digests (
  host           TEXT NOT NULL,
  id             TEXT NOT NULL,         -- the fingerprint's id: 16 hex digits
  interval_start TIMESTAMPTZ NOT NULL,  -- probe's or proxy's --digest-interval
  interval_end   TIMESTAMPTZ NOT NULL,
  fingerprint    TEXT NOT NULL,
  count          BIGINT NOT NULL,       -- executions, and those with their answer (timed)
  timed          BIGINT,
  total_duration DOUBLE PRECISION,      -- seconds
  avg            DOUBLE PRECISION,
  p50            DOUBLE PRECISION,
  p95            DOUBLE PRECISION,
  p99            DOUBLE PRECISION,
  max            DOUBLE PRECISION,
  rows           BIGINT,
  errors         JSONB,                 -- by SQLSTATE or MySQL error code
  users          JSONB,
  databases      JSONB,
  clients        JSONB,
  first_seen     TIMESTAMPTZ,
  last_seen      TIMESTAMPTZ,
  example        TEXT,
  PRIMARY KEY (host, id, interval_start)
);
CREATE INDEX IF NOT EXISTS query_digests_interval ON query_digests (interval_start);

-- "127.0.0.1:5432" or "[::1]:5432": the address and the port.
CREATE OR REPLACE FUNCTION tcpdp_addr_ip(addr TEXT) RETURNS INET
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN addr LIKE '[%' THEN substring(addr FROM '^\[(.*)\]:[0-9]+$')
              ELSE substring(addr FROM '^(.*):[0-9]+$') END::inet
$$;
CREATE OR REPLACE FUNCTION tcpdp_addr_port(addr TEXT) RETURNS INTEGER
LANGUAGE sql IMMUTABLE AS $$
  SELECT substring(addr FROM ':([0-9]+)$')::integer
$$;

-- Stores a batch of records (a JSON array) from the sensor named p_host: lifecycle state
-- changes into tcp_events, summaries into tcp_connections, the pg and mysql dumpers' records
-- into queries, query digests into query_digests. Rows already stored (a batch sent again after
-- a lost answer, a replayed spool) are left as they are. Returns the number of rows added.
CREATE OR REPLACE FUNCTION tcpdp_insert(p_host TEXT, p_records JSONB) RETURNS INTEGER
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  added INTEGER := 0;
  n INTEGER;
BEGIN
  INSERT INTO tcp_events (uid, host, "timestamp", pid_on_cpu, comm_on_cpu, src_ip, dst_ip,
                          src_port, dst_port, old_state, new_state, conn_id, side)
  SELECT r->>'uid', p_host, (r->>'ts')::timestamptz, (r->>'pid_on_cpu')::integer,
         r->>'comm_on_cpu', (r->>'src_ip')::inet, (r->>'dst_ip')::inet,
         (r->>'src_port')::integer, (r->>'dst_port')::integer,
         r->>'old_state', r->>'new_state', r->>'conn_id', r->>'side'
  FROM jsonb_array_elements(p_records) AS r
  WHERE r->>'event' = 'state'
  ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS n = ROW_COUNT;
  added := added + n;

  INSERT INTO tcp_connections (conn_id, host, start_time, end_time, duration, src_ip, src_port,
                               dst_ip, dst_port, remote_addr, proxy_protocol_src_addr,
                               conn_state, history, client_state, server_state, closed_by,
                               close_reason, mid_stream, client_bytes, server_bytes,
                               client_packets, server_packets, missed_bytes, handshake_rtt,
                               username, database, client_pid, client_comm, client_uid,
                               client_user, server_pid, server_comm, server_uid, server_user,
                               connect_failed, record)
  SELECT r->>'conn_id', p_host, (r->>'ts')::timestamptz,
         (r->>'ts')::timestamptz + make_interval(secs => (r->>'duration')::double precision),
         (r->>'duration')::double precision, (r->>'src_ip')::inet, (r->>'src_port')::integer,
         (r->>'dst_ip')::inet, (r->>'dst_port')::integer,
         r->>'remote_addr', r->>'proxy_protocol_src_addr',
         r->>'conn_state', r->>'history', r->>'client_state', r->>'server_state',
         r->>'closed_by', r->>'close_reason', (r->>'mid_stream')::boolean,
         (r->>'client_bytes')::bigint, (r->>'server_bytes')::bigint,
         (r->>'client_packets')::bigint, (r->>'server_packets')::bigint,
         (r->>'missed_bytes')::bigint, (r->>'handshake_rtt')::double precision,
         r->>'username', r->>'database',
         (r->>'client_pid')::integer, r->>'client_comm', (r->>'client_uid')::integer,
         r->>'client_user', (r->>'server_pid')::integer, r->>'server_comm',
         (r->>'server_uid')::integer, r->>'server_user', (r->>'connect_failed')::boolean, r
  FROM jsonb_array_elements(p_records) AS r
  WHERE r->>'event' = 'summary'
  ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS n = ROW_COUNT;
  added := added + n;

  INSERT INTO queries (host, conn_id, ts, src_ip, src_port, dst_ip, dst_port, username,
                       database, message_type, query, bind_values, rows, error, error_message,
                       duration, record)
  SELECT p_host, r->>'conn_id', (r->>'ts')::timestamptz,
         tcpdp_addr_ip(client), tcpdp_addr_port(client),
         tcpdp_addr_ip(server), tcpdp_addr_port(server),
         r->>'username', r->>'database',
         COALESCE(r->>'message_type', r->>'command'),
         COALESCE(r->>'query', r->>'parse_query', r->>'execute_query', r->>'stmt_prepare_query'),
         COALESCE(r->'bind_values', r->'stmt_execute_values'),
         (r->>'rows')::bigint,
         -- pg's SQLSTATE is in sql_state (in error_code in spools written before sql_state was
         -- a key of pg's), mysql's error number in error_code
         CASE r->>'event' WHEN 'pg' THEN COALESCE(r->>'sql_state', r->>'error_code')
                          ELSE r->>'error_code' END,
         r->>'error_message',
         (r->>'duration')::double precision, r
  FROM jsonb_array_elements(p_records) AS r,
       LATERAL (SELECT COALESCE(r->>'client_addr',
                                CASE WHEN r->>'direction' = '<-' THEN r->>'dst_addr'
                                     ELSE r->>'src_addr' END) AS client,
                       COALESCE(r->>'proxy_listen_addr',
                                CASE WHEN r->>'direction' = '<-' THEN r->>'src_addr'
                                     ELSE r->>'dst_addr' END) AS server) AS ends
  -- (a spool written before records said their kind holds protocol records without one)
  WHERE r->>'event' IN ('pg', 'mysql', 'decode_error') OR r->>'event' IS NULL;
  GET DIAGNOSTICS n = ROW_COUNT;
  added := added + n;

  INSERT INTO query_digests (host, id, interval_start, interval_end, fingerprint, count, timed,
                             total_duration, avg, p50, p95, p99, max, rows, errors, users,
                             databases, clients, first_seen, last_seen, example)
  SELECT p_host, r->>'id', (r->>'interval_start')::timestamptz, (r->>'interval_end')::timestamptz,
         r->>'fingerprint', (r->>'count')::bigint, (r->>'timed')::bigint,
         (r->>'total_duration')::double precision, (r->>'avg')::double precision,
         (r->>'p50')::double precision, (r->>'p95')::double precision,
         (r->>'p99')::double precision, (r->>'max')::double precision, (r->>'rows')::bigint,
         r->'errors', r->'users', r->'databases', r->'clients',
         (r->>'first_seen')::timestamptz, (r->>'last_seen')::timestamptz, r->>'example'
  FROM jsonb_array_elements(p_records) AS r
  WHERE r->>'event' = 'digest'
  ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN added + n;
END
$$;

-- Who connected from where, how often: connections (one a summary) by server and client
-- address, with the first and the last one's start.
CREATE OR REPLACE VIEW ips AS
  SELECT dst_ip, src_ip, count(*) AS connections, min(start_time) AS start_date,
         max(start_time) AS end_date
  FROM tcp_connections GROUP BY dst_ip, src_ip;
CREATE OR REPLACE VIEW agg_ips AS
  SELECT src_ip, count(*) AS connections, min(start_time) AS start_date,
         max(start_time) AS end_date
  FROM tcp_connections GROUP BY src_ip;

-- The same by client network: an IPv4 address is taken to its /prefix4, an IPv6 one to its
-- /prefix6 (each at most the family's length).
CREATE OR REPLACE FUNCTION nets_view(prefix4 INTEGER, prefix6 INTEGER)
RETURNS TABLE (dst_ip INET, src_net CIDR, connections BIGINT, start_date TIMESTAMPTZ,
               end_date TIMESTAMPTZ)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT c.dst_ip,
         network(set_masklen(c.src_ip, CASE WHEN family(c.src_ip) = 4 THEN least(prefix4, 32)
                                            ELSE least(prefix6, 128) END))::cidr,
         count(*), min(c.start_time), max(c.start_time)
  FROM tcp_connections c WHERE c.src_ip IS NOT NULL GROUP BY 1, 2
$$;
CREATE OR REPLACE FUNCTION agg_nets_view(prefix4 INTEGER, prefix6 INTEGER)
RETURNS TABLE (src_net CIDR, connections BIGINT, start_date TIMESTAMPTZ, end_date TIMESTAMPTZ)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT n.src_net, sum(n.connections)::bigint, min(n.start_date), max(n.end_date)
  FROM nets_view(prefix4, prefix6) n GROUP BY 1
$$;
-- One prefix for both families (capped at 32 for IPv4).
CREATE OR REPLACE FUNCTION nets_view(prefix INTEGER)
RETURNS TABLE (dst_ip INET, src_net CIDR, connections BIGINT, start_date TIMESTAMPTZ,
               end_date TIMESTAMPTZ)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT * FROM nets_view(prefix, prefix)
$$;
CREATE OR REPLACE FUNCTION agg_nets_view(prefix INTEGER)
RETURNS TABLE (src_net CIDR, connections BIGINT, start_date TIMESTAMPTZ, end_date TIMESTAMPTZ)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT * FROM agg_nets_view(prefix, prefix)
$$;

-- IPv4 clients by /24, /16, /8; IPv6 clients by /64, /48.
CREATE OR REPLACE VIEW nets_24 AS SELECT * FROM nets_view(24, 128) WHERE family(src_net) = 4;
CREATE OR REPLACE VIEW nets_16 AS SELECT * FROM nets_view(16, 128) WHERE family(src_net) = 4;
CREATE OR REPLACE VIEW nets_8 AS SELECT * FROM nets_view(8, 128) WHERE family(src_net) = 4;
CREATE OR REPLACE VIEW nets_64 AS SELECT * FROM nets_view(32, 64) WHERE family(src_net) = 6;
CREATE OR REPLACE VIEW nets_48 AS SELECT * FROM nets_view(32, 48) WHERE family(src_net) = 6;
CREATE OR REPLACE VIEW agg_nets_24 AS SELECT * FROM agg_nets_view(24, 128) WHERE family(src_net) = 4;
CREATE OR REPLACE VIEW agg_nets_16 AS SELECT * FROM agg_nets_view(16, 128) WHERE family(src_net) = 4;
CREATE OR REPLACE VIEW agg_nets_8 AS SELECT * FROM agg_nets_view(8, 128) WHERE family(src_net) = 4;
CREATE OR REPLACE VIEW agg_nets_64 AS SELECT * FROM agg_nets_view(32, 64) WHERE family(src_net) = 6;
CREATE OR REPLACE VIEW agg_nets_48 AS SELECT * FROM agg_nets_view(32, 48) WHERE family(src_net) = 6;
