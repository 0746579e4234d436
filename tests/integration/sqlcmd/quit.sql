:on error ignore
SELECT 'first' AS step
GO
SELECT 'never sent' AS step
:exit
SELECT 'never read' AS step
GO
