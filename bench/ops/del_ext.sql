SELECT codes.code_del(:code);
