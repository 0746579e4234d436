-- Written for sqlcmd: batches end with GO; $(Table) comes from -v.
:setvar Greeting "hello from sqlcmd"
PRINT '$(Greeting)';
GO
CREATE TABLE $(Table) (id int NOT NULL PRIMARY KEY, label nvarchar(40))
GO
INSERT INTO $(Table) VALUES (1, N'one'), (2, N'two');
INSERT INTO $(Table) VALUES (3, N'$(Greeting)')
go
-- GO with a count runs the batch that many times
INSERT INTO $(Table) SELECT MAX(id) + 1, N'again' FROM $(Table)
GO 3
