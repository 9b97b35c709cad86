"""The database schema and seed data, as SQL. Used by `migrate` (writes) and `store` (reads).

Items start with a large stock so a long load test never runs out; prices are deterministic
in the id so a test can predict a row.
"""

from __future__ import annotations

# Any fixed 64-bit key works; it only has to be the same in every pod that migrates.
MIGRATION_LOCK_KEY = 0x6870616265_6E6368  # "hpabench"

INITIAL_STOCK = 1_000_000

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS items (
    id          integer PRIMARY KEY,
    name        text        NOT NULL,
    price_cents integer     NOT NULL CHECK (price_cents >= 0),
    stock       integer     NOT NULL CHECK (stock >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS orders (
    id          bigserial   PRIMARY KEY,
    item_id     integer     NOT NULL REFERENCES items (id),
    quantity    integer     NOT NULL CHECK (quantity > 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS orders_item_id_idx ON orders (item_id);
"""

# One statement: ids 1..$1, existing rows untouched, so re-running (or growing SEED_ITEMS) is safe.
SEED_SQL = f"""
INSERT INTO items (id, name, price_cents, stock)
SELECT g, 'item-' || g, 100 + (g * 37) % 10000, {INITIAL_STOCK}
FROM generate_series(1, $1::integer) AS g
ON CONFLICT (id) DO NOTHING
"""

# True when the schema and seed are already in place. It takes no table lock, so pods starting
# during a write-heavy load test do not queue behind (or deadlock with) live order transactions:
# `CREATE INDEX IF NOT EXISTS` takes a SHARE lock on `orders` even when the index exists, and the
# seed's ON CONFLICT waits on rows that orders hold FOR UPDATE.
IS_MIGRATED_SQL = """
SELECT to_regclass('public.orders_item_id_idx') IS NOT NULL
   AND (SELECT count(*) FROM items WHERE id BETWEEN 1 AND $1::integer) = $1::integer
"""

SELECT_ITEM_SQL = "SELECT id, name, price_cents, stock FROM items WHERE id = $1"
LOCK_ITEM_SQL = "SELECT stock FROM items WHERE id = $1 FOR UPDATE"
TAKE_STOCK_SQL = "UPDATE items SET stock = stock - $2, updated_at = now() WHERE id = $1 RETURNING stock"
INSERT_ORDER_SQL = "INSERT INTO orders (item_id, quantity) VALUES ($1, $2) RETURNING id"


def price_cents(item_id: int) -> int:
    """The seeded price of `item_id` (mirrors SEED_SQL)."""
    return 100 + (item_id * 37) % 10000
