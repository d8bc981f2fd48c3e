SELECT codes.code_query(:code);
