-- order 1017 is refunded: every use made for it counts again (the
-- application's role, codes_app, may do this)
SELECT codes.undo_reference('order-1017');     -- 1
DELETE FROM orders WHERE id = 'order-1017';
SELECT count(*) FROM codes.redemptions WHERE reference = 'order-1017' AND undone_at IS NULL;   -- 0
