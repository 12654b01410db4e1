-- The console's audit log (issue 12) reads the operator's wallet status changes newest first,
-- across institutions or within one: a partial index of just those rows, in that order, so that a
-- page costs the same whatever the size of the table.
CREATE INDEX wallet_status_changes_operator_idx
  ON wallet_status_changes (created_at DESC, id DESC)
  WHERE actor_type = 'operator' AND new_set_by = 'operator';
