DELETE FROM hand_codes WHERE code = :code;
