package dialect

import "testing"

func TestInvisibleForMariaDB(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"CREATE TABLE `t` (\n  `my_row_id` bigint unsigned NOT NULL AUTO_INCREMENT /*!80023 INVISIBLE */,\n  `c` int, PRIMARY KEY (`my_row_id`)) ENGINE=InnoDB",
			"CREATE TABLE `t` (\n  `my_row_id` bigint unsigned NOT NULL AUTO_INCREMENT  INVISIBLE ,\n  `c` int, PRIMARY KEY (`my_row_id`)) ENGINE=InnoDB"},
		{"ALTER TABLE t ADD a INT/*!80023 invisible*/, ADD b INT /*!80023  INVISIBLE*/",
			"ALTER TABLE t ADD a INT INVISIBLE , ADD b INT  INVISIBLE "},
		// left Alone: in a string literal, in a plain comment, an invisible
		// index (/*!80000), no comment at all
		{"INSERT INTO t VALUES ('/*!80023 INVISIBLE */')", ""},
		{"CREATE TABLE t (a INT) /* was /*!80023 INVISIBLE */", ""},
		{"CREATE TABLE t (a INT, KEY k (a) /*!80000 INVISIBLE */)", ""},
		{"CREATE TABLE t (a INT INVISIBLE)", ""},
	} {
		got, changed := InvisibleForMariaDB([]byte(c.in))
		want := c.want
		if want == "" {
			want = c.in
		}
		if string(got) != want || changed != (c.want != "") {
			t.Errorf("invisibleForMariaDB(%q) = %q, %v; want %q", c.in, got, changed, want)
		}
	}
}
