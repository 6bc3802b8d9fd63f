package redact

import "testing"

func TestSQL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"INSERT INTO `db`.`t` VALUES (1, 'secret', X'0A')", "INSERT INTO `db`.`t` VALUES (?, ?, ?)"},
		{"UPDATE t SET v = 'it''s' /* by alice */ WHERE id = 42", "UPDATE t SET v = ? ? WHERE id = ?"},
		{"SET @`x`:=_utf8mb4'pw' COLLATE `utf8mb4_bin`", "SET @`x`:=_utf8mb4? COLLATE `utf8mb4_bin`"},
		{"DELETE FROM t WHERE email = 'cut off", "DELETE FROM t WHERE email = ?"},
		{"CREATE TABLE t2 (id INT)", "CREATE TABLE t2 (id INT)"},
	}
	for _, c := range cases {
		if got := SQL(c.in); got != c.want {
			t.Errorf("SQL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestServerMessage(t *testing.T) {
	cases := []struct {
		code    uint16
		in, out string
	}{
		{1062, "Duplicate entry 'secret' for key 'PRIMARY'", "Duplicate entry '?' for key 'PRIMARY'"},
		{1062, "Duplicate entry 'a' for b' for key 'email'", "Duplicate entry '?' for key 'email'"},
		{1062, "Duplicate entry 'x-1' for key 't.uk'", "Duplicate entry '?' for key 't.uk'"},
		{1366, "Incorrect integer value: 'abc' for column `db`.`t`.`c` at row 1", "Incorrect integer value: '?' for column `db`.`t`.`c` at row 1"},
		{1292, "Truncated incorrect DOUBLE value: 'secret'", "Truncated incorrect DOUBLE value: '?'"},
		{1064, "You have an error in your SQL syntax; check the manual near 'VALUES ('pw')' at line 1",
			"You have an error in your SQL syntax; check the manual near '?' at line 1"},
		{1146, "Table 'tf.b' doesn't exist", "Table 'tf.b' doesn't exist"},
		{1452, "Cannot add or update a child row: a foreign key constraint fails (`d`.`c`, CONSTRAINT `fk` FOREIGN KEY (`p`) REFERENCES `p` (`id`))",
			"Cannot add or update a child row: a foreign key constraint fails (`d`.`c`, CONSTRAINT `fk` FOREIGN KEY (`p`) REFERENCES `p` (`id`))"},
		{9999, "Something 'a' and 'b' happened", "Something '?' happened"},
		{9999, "Dangling 'quote", "Dangling '?"},
		{9999, "no quotes", "no quotes"},
	}
	for _, c := range cases {
		if got := ServerMessage(c.code, c.in); got != c.out {
			t.Errorf("ServerMessage(%d, %q) = %q, want %q", c.code, c.in, got, c.out)
		}
	}
}

func TestText(t *testing.T) {
	in := "ERROR 1062 (23000) at line 12: Duplicate entry 'pw' for key 'PRIMARY'\nno quote here\none 'quote"
	want := "ERROR 1062 (23000) at line 12: Duplicate entry '?'\nno quote here\none '?"
	if got := Text(in); got != want {
		t.Errorf("Text:\n%s\nwant\n%s", got, want)
	}
}
