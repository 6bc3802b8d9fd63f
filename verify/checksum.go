package verify

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"sort"
)

// Checksum returns a digest per selected table ("db.table" -> hex) of its
// schema (as Compare compares it) and its rows (count, BIT_XOR and SUM of
// the row CRC32s, in one aggregate query per table). Two servers, or two
// moments of one server, hold the same table when the digests are equal,
// within the limits of the package doc. opts.ChunkSize is ignored;
// opts.Progress is called once per table. Selected tables that do not exist
// are absent from the map. It holds one connection of db
// with the session settings Compare uses, and returns an error if a query
// fails or ctx is cancelled.
func Checksum(ctx context.Context, db *sql.DB, opts Options) (map[string]string, error) {
	s, err := openSession(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	defer s.close()
	dbs, err := databases(ctx, opts, s.conn)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string)
	for _, name := range dbs {
		tables, err := loadDatabase(ctx, s.conn, name)
		if err != nil {
			return nil, err
		}
		names := make([]string, 0, len(tables))
		for n := range tables {
			if opts.wanted(name, n) {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			digest, rows, err := tableDigest(ctx, s.conn, tables[n])
			if err != nil {
				return nil, err
			}
			out[name+"."+n] = digest
			if opts.Progress != nil {
				opts.Progress(name, n, rows)
			}
		}
	}
	return out, nil
}

// tableDigest hashes one table's schema fingerprint and row sums.
func tableDigest(ctx context.Context, q querier, t *tableSchema) (string, int64, error) {
	p := newPlan(t)
	s, err := querySums(ctx, q, p.sumsQuery("FROM "+p.table, "1"), nil)
	if err != nil {
		return "", 0, fmt.Errorf("checksum table %s: %w", p.table, err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\nrows=%d xor=%d sum=%s\n", t.fingerprint(), s.Count, s.Xor, s.Sum)
	return hex.EncodeToString(h.Sum(nil)), s.Count, nil
}
