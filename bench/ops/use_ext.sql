SELECT codes.code_use(:code, 'pgbench');
