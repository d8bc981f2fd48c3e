-- another customer holds a use; the payment fails: give the use back
SELECT h.hold AS hold2
FROM codes.code_hold(:'promo', 'customer-43', interval '15 minutes',
                     reference => 'cart-9002') AS h \gset
SELECT codes.hold_release(:'promo', :hold2);   -- true

-- a customer who never comes back needs nothing: once held_until has
-- passed the hold counts no more, and the next use takes it back
