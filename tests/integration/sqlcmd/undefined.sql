SELECT '$(NoSuchVariable)' AS v
GO
SELECT 'next batch' AS v
GO
