SELECT id, label FROM $(Table) ORDER BY id
