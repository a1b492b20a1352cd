-- Postgres's form of migrations/0009_feeds.sql: the same table, hash-partitioned
-- by user into 16 partitions, so that every feed read and every fan-out
-- write names its partitions by the key, each partition's index stays small,
-- and moving feeds to a sharded engine later (Citus distributes by the same
-- column) needs no change of schema.
CREATE TABLE feed_items (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    activity_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, occurred_at, activity_id)
) PARTITION BY HASH (user_id);
CREATE TABLE feed_items_00 PARTITION OF feed_items FOR VALUES WITH (MODULUS 16, REMAINDER 0);
CREATE TABLE feed_items_01 PARTITION OF feed_items FOR VALUES WITH (MODULUS 16, REMAINDER 1);
CREATE TABLE feed_items_02 PARTITION OF feed_items FOR VALUES WITH (MODULUS 16, REMAINDER 2);
CREATE TABLE feed_items_03 PARTITION OF feed_items FOR VALUES WITH (MODULUS 16, REMAINDER 3);
CREATE TABLE feed_items_04 PARTITION OF feed_items FOR VALUES WITH (MODULUS 16, REMAINDER 4);
CREATE TABLE feed_items_05 PARTITION OF feed_items FOR VALUES WITH (MODULUS 16, REMAINDER 5);
CREATE TABLE feed_items_06 PARTITION OF feed_items FOR VALUES WITH (MODULUS 16, REMAINDER 6);
CREATE TABLE feed_items_07 PARTITION OF feed_items FOR VALUES WITH (MODULUS 16, REMAINDER 7);
CREATE TABLE feed_items_08 PARTITION OF feed_items FOR VALUES WITH (MODULUS 16, REMAINDER 8);
CREATE TABLE feed_items_09 PARTITION OF feed_items FOR VALUES WITH (MODULUS 16, REMAINDER 9);
CREATE TABLE feed_items_10 PARTITION OF feed_items FOR VALUES WITH (MODULUS 16, REMAINDER 10);
CREATE TABLE feed_items_11 PARTITION OF feed_items FOR VALUES WITH (MODULUS 16, REMAINDER 11);
CREATE TABLE feed_items_12 PARTITION OF feed_items FOR VALUES WITH (MODULUS 16, REMAINDER 12);
CREATE TABLE feed_items_13 PARTITION OF feed_items FOR VALUES WITH (MODULUS 16, REMAINDER 13);
CREATE TABLE feed_items_14 PARTITION OF feed_items FOR VALUES WITH (MODULUS 16, REMAINDER 14);
CREATE TABLE feed_items_15 PARTITION OF feed_items FOR VALUES WITH (MODULUS 16, REMAINDER 15);
