package schema

import "testing"

func TestIsCreateSelect(t *testing.T) {
	for sql, want := range map[string]bool{
		"CREATE TABLE t ENGINE=MyISAM SELECT * FROM s":                             true,
		"CREATE TABLE IF NOT EXISTS cs4 (PRIMARY KEY (id)) ENGINE=MyISAM SELECT 1": true,
		"create or replace table d.t as select a from b":                           true,
		"CREATE TABLE t (a INT) ENGINE=Aria":                                       false,
		"CREATE TABLE t LIKE s":                                                    false,
		"CREATE TABLE t (a VARCHAR(9) DEFAULT 'SELECT')":                           false,
		"CREATE TEMPORARY TABLE t SELECT 1":                                        false,
		"INSERT INTO t SELECT * FROM s":                                            false,
		"CREATE VIEW v AS SELECT 1":                                                false,
	} {
		if got := IsCreateSelect([]byte(sql)); got != want {
			t.Errorf("IsCreateSelect(%q) = %v, want %v", sql, got, want)
		}
	}
}

func TestIsCreateOrReplaceTable(t *testing.T) {
	for sql, want := range map[string]bool{
		"CREATE OR REPLACE TABLE cs1 (PRIMARY KEY (id)) SELECT id FROM d1": true,
		"create or replace table t (a int)":                                true,
		"CREATE TABLE t (a INT)":                                           false,
		"CREATE OR REPLACE VIEW v AS SELECT 1":                             false,
		"CREATE OR REPLACE TEMPORARY TABLE t (a INT)":                      false,
	} {
		if got := IsCreateOrReplaceTable([]byte(sql)); got != want {
			t.Errorf("IsCreateOrReplaceTable(%q) = %v, want %v", sql, got, want)
		}
	}
}
