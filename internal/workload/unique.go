package workload

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/workload/unit"

	"github.com/binlog-replay/binlog-replay/internal/workload/idset"

	"github.com/binlog-replay/binlog-replay/internal/workload/sqlvals"
)

// uniqueGen is the UniqueChurn profile. u_users has a case-insensitive
// unique email and a nullable unique nick; u_pairs a composite unique key
// with a nullable part. Transactions move unique values between rows (in one
// transaction or in consecutive autocommit statements), swap them through
// temporary values, change primary keys, delete and re-insert rows, change
// letter case and shuffle NULLs. A model of the rows keeps every statement
// valid.
type uniqueGen struct {
	o     Options
	users []uniqueUser // by id-1 after Setup
	pairs []uniquePair
}

type uniqueUser struct {
	id          int
	email, nick string // nick "" is NULL
}

type uniquePair struct {
	id int
	a  int
	b  string // "" is NULL
}

func newUniqueGen(o Options) generator { return &uniqueGen{o: o} }

func (g *uniqueGen) setup(r *rand.Rand) []unit.Unit {
	g.users, g.pairs = nil, nil
	var users, pairs [][]string
	for id := 1; id <= g.o.Scale; id++ {
		u := uniqueUser{id: id, email: fmt.Sprintf("user%d@example.com", id)}
		if r.IntN(2) == 0 {
			u.nick = fmt.Sprintf("Nick%d", id)
		}
		g.users = append(g.users, u)
		users = append(users, []string{fmt.Sprint(id), sqlvals.Str(caseVariant(r, u.email)), nullStr(u.nick), fmt.Sprint(r.IntN(1000))})
		p := uniquePair{id: id, a: id % 10}
		if r.IntN(3) != 0 {
			p.b = fmt.Sprintf("v%d", id)
		}
		g.pairs = append(g.pairs, p)
		pairs = append(pairs, []string{fmt.Sprint(id), fmt.Sprint(p.a), nullStr(p.b)})
	}
	return []unit.Unit{
		unit.Auto(`CREATE TABLE u_users (
  id INT NOT NULL PRIMARY KEY,
  email VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL,
  nick VARCHAR(32) NULL,
  val INT NOT NULL DEFAULT 0,
  UNIQUE KEY uk_email (email),
  UNIQUE KEY uk_nick (nick)
) ENGINE=InnoDB`),
		unit.Auto(`CREATE TABLE u_pairs (
  id INT NOT NULL PRIMARY KEY,
  a INT NULL,
  b VARCHAR(8) NULL,
  UNIQUE KEY uk_ab (a, b)
) ENGINE=InnoDB`),
		unit.Tx(sqlvals.InsertRows("u_users", sqlvals.Idents("id", "email", "nick", "val"), users, 100)...),
		unit.Tx(sqlvals.InsertRows("u_pairs", sqlvals.Idents("id", "a", "b"), pairs, 100)...),
	}
}

// nullStr quotes s, or returns NULL for "".
func nullStr(s string) string {
	if s == "" {
		return "NULL"
	}
	return sqlvals.Str(s)
}

// caseVariant returns s with the case of some letters flipped (equal to s
// under a case-insensitive collation).
func caseVariant(r *rand.Rand, s string) string {
	b := []byte(s)
	for i, c := range b {
		if r.IntN(3) == 0 && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		} else if r.IntN(3) == 0 && c >= 'A' && c <= 'Z' {
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

func (g *uniqueGen) session(s int, r *rand.Rand) txnSource {
	o := idset.Owner{S: s, N: g.o.Threads}
	us := &uniqueSession{g: g, r: r, o: o, alloc: idset.NewAlloc(o, g.o.Scale),
		users: idset.New(), pairs: idset.New(), user: map[int]*uniqueUser{}, pair: map[int]*uniquePair{}}
	for _, u := range g.users {
		if o.Owns(u.id) {
			us.users.Add(u.id)
			us.user[u.id] = &u
		}
	}
	for _, p := range g.pairs {
		if o.Owns(p.id) {
			us.pairs.Add(p.id)
			us.pair[p.id] = &p
		}
	}
	return us
}

type uniqueSession struct {
	g            *uniqueGen
	r            *rand.Rand
	o            idset.Owner
	alloc        *idset.Alloc
	users, pairs *idset.Set
	user         map[int]*uniqueUser
	pair         map[int]*uniquePair
	n            int // counter for new values
}

// freshID returns an owned id no user or pair row has.
func (s *uniqueSession) freshID() int {
	for {
		id := s.alloc.Fresh()
		if !s.users.Has(id) && !s.pairs.Has(id) {
			return id
		}
	}
}

func (s *uniqueSession) newEmail() string {
	s.n++
	return fmt.Sprintf("s%d-new%d@example.com", s.o.S, s.n)
}

func (s *uniqueSession) next(int) []unit.Unit {
	r := s.r
	if s.users.Len() < 4 {
		return []unit.Unit{unit.Auto(s.insertUser(s.freshID(), s.newEmail(), ""))}
	}
	switch r.IntN(12) {
	case 0:
		return s.move(true)
	case 1:
		return s.move(false)
	case 2:
		return s.swap()
	case 3:
		return s.shiftOne()
	case 4:
		return s.shiftRange()
	case 5:
		return s.reinsert()
	case 6:
		u := s.user[s.users.Pick(r)]
		u.email = caseVariant(r, strings.ToUpper(u.email[:1])+u.email[1:])
		return []unit.Unit{unit.Auto(fmt.Sprintf("UPDATE u_users SET email=%s WHERE id=%d", sqlvals.Str(u.email), u.id))}
	case 7, 8:
		return s.moveNick()
	case 9:
		return s.movePair()
	case 10:
		if r.IntN(2) == 0 {
			return []unit.Unit{unit.Auto(s.insertUser(s.freshID(), s.newEmail(), ""))}
		}
		id := s.users.Pick(r)
		s.users.Remove(id)
		delete(s.user, id)
		return []unit.Unit{unit.Auto(fmt.Sprintf("DELETE FROM u_users WHERE id=%d", id))}
	default:
		return s.pairNulls()
	}
}

// insertUser records and returns the insert of a user.
func (s *uniqueSession) insertUser(id int, email, nick string) string {
	s.users.Add(id)
	s.user[id] = &uniqueUser{id: id, email: email, nick: nick}
	return fmt.Sprintf("INSERT INTO u_users (id, email, nick, val) VALUES (%d, %s, %s, %d)",
		id, sqlvals.Str(email), nullStr(nick), s.r.IntN(1000))
}

// move deletes a user and inserts its email (in another letter case half
// the time) under a new id: in one transaction or as two autocommits.
func (s *uniqueSession) move(tx bool) []unit.Unit {
	r := s.r
	old := s.user[s.users.Pick(r)]
	s.users.Remove(old.id)
	delete(s.user, old.id)
	email := old.email
	if r.IntN(2) == 0 {
		email = caseVariant(r, strings.ToUpper(email))
	}
	stmts := []string{fmt.Sprintf("DELETE FROM u_users WHERE id=%d", old.id),
		s.insertUser(s.freshID(), email, old.nick)}
	if tx {
		return []unit.Unit{unit.Tx(stmts...)}
	}
	return []unit.Unit{unit.Auto(stmts...)}
}

// swap exchanges the emails of two users through a temporary value, with
// the values carried in user variables.
func (s *uniqueSession) swap() []unit.Unit {
	a, b := s.user[s.users.Pick(s.r)], s.user[s.users.Pick(s.r)]
	if a.id == b.id {
		return s.move(true)
	}
	a.email, b.email = b.email, a.email
	return []unit.Unit{unit.Tx(
		fmt.Sprintf("SET @ea := (SELECT email FROM u_users WHERE id=%d), @eb := (SELECT email FROM u_users WHERE id=%d)", a.id, b.id),
		fmt.Sprintf("UPDATE u_users SET email=CONCAT('tmp-', id, '@swap') WHERE id=%d", a.id),
		fmt.Sprintf("UPDATE u_users SET email=@ea WHERE id=%d", b.id),
		fmt.Sprintf("UPDATE u_users SET email=@eb WHERE id=%d", a.id),
	)}
}

// shiftOne moves a user to the primary key id+1000 (times the number of
// sessions, to stay in this session's ids) when that key is free.
func (s *uniqueSession) shiftOne() []unit.Unit {
	d := 1000 * s.o.N
	u := s.user[s.users.Pick(s.r)]
	if s.users.Has(u.id + d) {
		return s.reinsert()
	}
	id := u.id
	s.rekey(id, id+d)
	return []unit.Unit{unit.Auto(fmt.Sprintf("UPDATE u_users SET id=id+%d WHERE id=%d", d, id))}
}

// shiftRange moves the users with ids in [lo, hi] up by one step, highest
// first (ORDER BY id DESC), so that each lands on a freed key.
func (s *uniqueSession) shiftRange() []unit.Unit {
	step := s.o.N
	lo := s.users.Pick(s.r)
	hi := lo + step*s.r.IntN(6)
	top := 0
	for id := hi; id >= lo; id -= step {
		if s.users.Has(id) {
			top = id
			break
		}
	}
	if s.users.Has(top + step) {
		return s.swap()
	}
	for id := top; id >= lo; id -= step {
		if s.users.Has(id) {
			s.rekey(id, id+step)
		}
	}
	where := fmt.Sprintf("id BETWEEN %d AND %d", lo, hi)
	if s.o.N > 1 {
		where += fmt.Sprintf(" AND (id-1) %% %d = %d", s.o.N, s.o.S)
	}
	return []unit.Unit{unit.Auto(fmt.Sprintf("UPDATE u_users SET id=id+%d WHERE %s ORDER BY id DESC", step, where))}
}

func (s *uniqueSession) rekey(from, to int) {
	u := s.user[from]
	s.users.Remove(from)
	delete(s.user, from)
	u.id = to
	s.users.Add(to)
	s.user[to] = u
}

// reinsert deletes a user and inserts it again with the same key and email.
func (s *uniqueSession) reinsert() []unit.Unit {
	u := s.user[s.users.Pick(s.r)]
	return []unit.Unit{unit.Tx(fmt.Sprintf("DELETE FROM u_users WHERE id=%d", u.id),
		s.insertUser(u.id, u.email, u.nick))}
}

// moveNick takes a's nick (or a new one) to b, leaving NULL behind.
func (s *uniqueSession) moveNick() []unit.Unit {
	a, b := s.user[s.users.Pick(s.r)], s.user[s.users.Pick(s.r)]
	if a.id == b.id || a.nick == "" {
		s.n++
		a.nick = fmt.Sprintf("n%d-%d", s.o.S, s.n)
		return []unit.Unit{unit.Auto(fmt.Sprintf("UPDATE u_users SET nick=%s WHERE id=%d", sqlvals.Str(a.nick), a.id))}
	}
	nick := caseVariant(s.r, a.nick)
	a.nick, b.nick = "", nick
	return []unit.Unit{unit.Tx(
		fmt.Sprintf("UPDATE u_users SET nick=NULL WHERE id=%d", a.id),
		fmt.Sprintf("UPDATE u_users SET nick=%s WHERE id=%d", sqlvals.Str(nick), b.id),
	)}
}

// movePair moves a non-NULL (a, b) pair to another row, leaving b NULL.
func (s *uniqueSession) movePair() []unit.Unit {
	if s.pairs.Len() < 2 {
		return s.pairNulls()
	}
	x, y := s.pair[s.pairs.Pick(s.r)], s.pair[s.pairs.Pick(s.r)]
	if x.id == y.id || x.b == "" {
		return s.pairNulls()
	}
	a, b := x.a, x.b
	x.b, y.a, y.b = "", a, b
	return []unit.Unit{unit.Tx(
		fmt.Sprintf("UPDATE u_pairs SET b=NULL WHERE id=%d", x.id),
		fmt.Sprintf("UPDATE u_pairs SET a=%d, b=%s WHERE id=%d", a, sqlvals.Str(strings.ToUpper(b)), y.id),
	)}
}

// pairNulls inserts a pair whose b is NULL, duplicating an existing a (NULLs
// never conflict), or deletes one.
func (s *uniqueSession) pairNulls() []unit.Unit {
	if s.pairs.Len() > 2 && s.r.IntN(3) == 0 {
		id := s.pairs.Pick(s.r)
		s.pairs.Remove(id)
		delete(s.pair, id)
		return []unit.Unit{unit.Auto(fmt.Sprintf("DELETE FROM u_pairs WHERE id=%d", id))}
	}
	id := s.freshID()
	p := &uniquePair{id: id, a: s.r.IntN(10)}
	s.pairs.Add(id)
	s.pair[id] = p
	return []unit.Unit{unit.Auto(fmt.Sprintf("INSERT INTO u_pairs (id, a, b) VALUES (%d, %d, NULL)", id, p.a))}
}
