-- codes hashed at rest are shown once, when they are made: write them
-- out then (this needs a key: see "Codes hashed at rest")
\copy (SELECT code FROM codes.code_gen(500, now(), now() + interval '90 days', pattern => 'GIFT-#####-#####^', store => 'hmac', batch => 'gifts') AS code) TO 'gifts.csv' CSV
SELECT issued FROM codes.batches WHERE name = 'gifts';   -- 500
