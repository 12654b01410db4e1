-- The dispatchers are no longer woken by a NOTIFY inside every transaction that queues deliveries
-- (0015's triggers). PostgreSQL takes one lock for the whole database at the commit of any
-- transaction that notified, held until the commit is flushed, so every create of an institution
-- with an endpoint committed one after another, never together: one subscribed endpoint cost the
-- write path about half its throughput at 16 connections (docs/performance.md, "Webhooks").
-- The service now announces committed deliveries itself (Database.signal(): this instance's
-- dispatcher at once, the others' through one NOTIFY sent on its own at most every 20 ms), and
-- the dispatchers still poll, for retries falling due and for announcements lost with a process.
DROP TRIGGER webhook_deliveries_inserted ON webhook_deliveries;
DROP TRIGGER webhook_deliveries_requeued ON webhook_deliveries;
DROP FUNCTION notify_webhook_deliveries();
