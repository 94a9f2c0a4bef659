import type { StripeState } from "./state.js";

/** The emulator's own schema, `local_stripe` (created idempotently; never in public). */
export async function ensureSchema(s: StripeState): Promise<void> {
  await s.sql.begin(async (tx) => {
    // Serialises emulators starting at once on one database (concurrent `create ... if not exists` can collide).
    await tx`select pg_advisory_xact_lock(727002)`;
    await tx.unsafe(`
      create schema if not exists local_stripe;
      create table if not exists local_stripe.objects (
        id text primary key,
        object text not null,
        customer text,
        data jsonb not null,
        internal jsonb not null default '{}'::jsonb,
        created_at timestamptz not null default now()
      );
      create index if not exists objects_customer_idx on local_stripe.objects (customer, object);
      create table if not exists local_stripe.events (
        seq bigserial unique,
        id text primary key,
        type text not null,
        payload text not null,
        status text not null default 'pending',
        attempts integer not null default 0,
        last_response_status integer,
        created_at timestamptz not null default now()
      );
      create table if not exists local_stripe.idempotency_keys (
        key text primary key,
        fingerprint text not null,
        status integer not null,
        body text not null,
        created_at timestamptz not null default now()
      );`);
  });
}
