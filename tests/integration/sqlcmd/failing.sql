SELECT 1 AS before_error
GO
SELECT * FROM no_such_table
GO
-- with -b (or :on error exit) sqlcmd stops above; without, it goes on
SELECT 2 AS after_error
GO
