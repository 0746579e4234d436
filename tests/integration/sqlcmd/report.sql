:r $(ScriptDir)/select_all.sql
GO
SELECT COUNT(*) AS n FROM $(Table) WHERE label = N'again'
GO
