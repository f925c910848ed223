"""0005: a session's rules read page by page in creation order.

The scheduler indexes a session's rules, and a kernel defines its stored callbacks, in bounded
batches after their start instead of reading all of them first (100,000 rules took ~0.75 s and
10,000 callbacks ~0.9 s on the start-up path). Each batch is a keyset page `WHERE session_id = ?
[AND action_type = 'callback' AND enabled = 1] AND (seq, id) > (?, ?) ORDER BY seq, id LIMIT n`;
these indexes make each page a range scan instead of a scan of the session's rules.

Frozen DDL; later changes are new numbered scripts.
"""


def up(migrator, db):  # type: ignore[no-untyped-def]
    db.execute_sql("CREATE INDEX idx_rules_session_seq ON rules(session_id, seq, id)")
    db.execute_sql(
        "CREATE INDEX idx_rules_session_action ON rules(session_id, action_type, enabled, seq, id)"
    )


def down(migrator, db):  # type: ignore[no-untyped-def]
    db.execute_sql("DROP INDEX IF EXISTS idx_rules_session_action")
    db.execute_sql("DROP INDEX IF EXISTS idx_rules_session_seq")
