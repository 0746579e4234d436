-- Sample data for the tdsclient test server (tests/server/tdsserver.py).
-- Run through the server's T-SQL -> SQLite translation (N'..', 0x.., (max)).
-- Every value is exactly representable in its SQL Server type; the expected
-- client-side rendering is tests/peers/typed_table.expected.

DROP TABLE IF EXISTS typed;
CREATE TABLE typed (
  id int NOT NULL PRIMARY KEY,
  c_bit bit,
  c_tinyint tinyint,
  c_smallint smallint,
  c_int int,
  c_bigint bigint,
  c_real real,
  c_float float,
  c_decimal decimal(18,4),
  c_numeric numeric(38,10),
  c_money money,
  c_smallmoney smallmoney,
  c_char char(10),
  c_varchar varchar(50),
  c_varcharmax varchar(max),
  c_text text,
  c_nchar nchar(10),
  c_nvarchar nvarchar(50),
  c_nvarcharmax nvarchar(max),
  c_ntext ntext,
  c_binary binary(4),
  c_varbinary varbinary(16),
  c_varbinarymax varbinary(max),
  c_image image,
  c_guid uniqueidentifier,
  c_date date,
  c_time time(7),
  c_smalldatetime smalldatetime,
  c_datetime datetime,
  c_datetime2 datetime2(7),
  c_dto datetimeoffset(7)
);

-- id 1: ordinary values, non-ASCII text, all 7 fractional digits
INSERT INTO typed VALUES (1, 1, 42, -1234, 123456789, -1234567890123,
  3.14159, 2.718281828459045,
  '-12345.6789', '1234567890.0123456789', '12345.6789', '-12.3456',
  'café', 'café', 'café au lait', 'café text',
  N'Grüße, 日本', N'Grüße, 日本', N'Grüße, 日本 (max)', N'Grüße, 日本 (ntext)',
  0xDEADBEEF, 0x0102030405, 0x00FF, 0x89504E470D0A1A0A,
  '6F9619FF-8B86-D011-B42D-00C04FC964FF',
  '2024-02-29', '13:45:01.1234567', '2024-02-29 13:45:00',
  '2024-02-29 13:45:01.997', '2024-02-29 13:45:01.1234567',
  '2024-02-29 13:45:01.1234567 +05:30');

-- id 2: all NULL
INSERT INTO typed (id) VALUES (2);

-- id 3: extremes; the (max) values span several packets and PLP chunks
INSERT INTO typed VALUES (3, 0, 255, -32768, -2147483648, 9223372036854775807,
  3.4028234663852886e+38, -1.7976931348623157e+308,
  '-99999999999999.9999', '9999999999999999999999999999.9999999999',
  '-922337203685477.5808', '214748.3647',
  'ABCDEFGHIJ', '', NULL, 'x',
  N'ÿ', N'', NULL, N'',
  0x0102, 0x, NULL, 0x00,
  '01234567-89AB-CDEF-0123-456789ABCDEF',
  '0001-01-01', '23:59:59.9999999', '2079-06-06 23:59:00',
  '9999-12-31 23:59:59.997', '9999-12-31 23:59:59.9999999',
  '9999-12-31 09:59:59.9999999 -14:00');

-- 9000 cp1252 characters (PLP varchar, 2 chunks), 10200 UTF-16 code units
-- (20400 bytes), 20000 bytes of binary; all position-dependent.
UPDATE typed SET
  c_varcharmax = replace(hex(zeroblob(4500)), '00', 'é-'),
  c_nvarcharmax = (WITH RECURSIVE r(i, s) AS (SELECT 0, ''
                     UNION ALL SELECT i + 1, s || printf('%05d日', i)
                     FROM r WHERE i < 1700)
                   SELECT s FROM r WHERE i = 1700),
  c_varbinarymax = (WITH RECURSIVE r(i, s) AS (SELECT 0, ''
                      UNION ALL SELECT i + 1, s || printf('%05d', i)
                      FROM r WHERE i < 4000)
                    SELECT CAST(s AS BLOB) FROM r WHERE i = 4000)
WHERE id = 3;

DROP TABLE IF EXISTS people;
CREATE TABLE people (id int NOT NULL PRIMARY KEY, name nvarchar(50));
INSERT INTO people VALUES (1, N'Alice'), (2, N'Bob'), (3, N'Zoë'), (4, NULL);
