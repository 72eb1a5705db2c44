-- PostgreSQL only (SQLite has no named constraints to speak of). Constraint names, and with
-- them the indexes behind primary keys and unique columns, are schema-wide on PostgreSQL: the
-- engine's tables kept `users_pkey`, `users_email_key`, `sessions_user_id_fkey`… from their old
-- names. Each gets the prefix, whatever it was called.

DO $$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT cls.relname AS tbl, con.conname AS name
    FROM pg_constraint con
    JOIN pg_class cls ON cls.oid = con.conrelid
    JOIN pg_namespace ns ON ns.oid = cls.relnamespace
    WHERE ns.nspname = current_schema()
      AND cls.relname LIKE 'sessionflow\_%'
      AND con.conname NOT LIKE 'sessionflow\_%'
  LOOP
    EXECUTE format('ALTER TABLE %I RENAME CONSTRAINT %I TO %I', r.tbl, r.name, 'sessionflow_' || r.name);
  END LOOP;
END $$;
