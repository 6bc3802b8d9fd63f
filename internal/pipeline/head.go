package pipeline

import (
	"github.com/binlog-replay/binlog-replay/partition"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Head start: a chain of groups, each waiting for the one before it (the
// default sysbench distribution, where a few hot rows are written by every
// group), runs one group's body at a time on the target, however many
// workers there are. Yet most transactions of a group do not touch what
// the group just before it writes: in 60,000 transactions of that
// workload, 79% of those in groups of 256 (37% in groups of 1,024) shared
// no key with the group before, nor with a transaction of their group
// that did.
//
// So the dispatcher marks, in each group, the transactions that wait for
// the group sent just before it: those that share a key with a
// transaction from that group's first ticket on (their dependency reaches
// it), and those that share a key with a transaction of the group so
// marked before them (they must follow it). The others form the group's
// head, which depends only on the groups before the one just sent
// (headDependsOn). The worker runs the head first, as soon as those groups
// have run their bodies (the early start's rule), while the group before
// is still running its body; then, once that group has run its body too,
// the rest (the tail); then it commits, in its turn, as one target
// transaction: the target still only ever holds a prefix of the source
// history.
//
// Moving a head transaction before tail transactions that precede it in
// the source changes nothing the commit leaves: they share no primary or
// unique key (nor a foreign key's parent row: a write set holds it), the
// same reason two independent groups may run side by side; a transaction
// whose write set is unknown (a barrier) is in the tail, and so is every
// transaction after it in the group (the tracker's floor). And the row
// locks stay the net, as for those groups: a head's row event on a row
// the group before holds waits for that group's commit; one the group
// before still needs makes it wait on the head, which the order monitor
// sees as it sees a group waiting for its turn (the tail's wait counts as
// waiting): the head rolls back and runs again after that group has
// committed. So does a head that holds a gap lock the group before needs.
// A group whose attempt failed runs whole (late).

// join adds t, which depends on dependsOn before the group (see
// scheduler.depends) and writes keys, to the group under construction;
// prevFirst is the first ticket of the group sent before it (0 for none).
// barrier says t's write set is unknown.
func (g *group) join(t *txn.Txn, dependsOn uint64, keys []partition.Key, barrier bool, prevFirst uint64) {
	tied := barrier || dependsOn != 0 && dependsOn >= prevFirst
	for _, k := range keys {
		if tied {
			break
		}
		_, tied = g.tiedKeys[k]
	}
	if tied {
		if g.tied == nil {
			g.tied = make([]bool, len(g.txns), cap(g.txns))
			g.tiedKeys = map[partition.Key]struct{}{}
		}
		for _, k := range keys {
			g.tiedKeys[k] = struct{}{}
		}
	} else {
		g.headDependsOn = max(g.headDependsOn, dependsOn)
	}
	if g.tied != nil {
		g.tied = append(g.tied, tied)
	}
	g.txns = append(g.txns, t)
	g.dependsOn = max(g.dependsOn, dependsOn)
}

// sealed drops what the group needed only while it was built.
func (g *group) sealed() { g.tiedKeys = nil }

// parts returns the group's head and tail (see "Head start"), and
// whether it has both: a group without a transaction waiting for the
// group before it, or without one that does not, runs whole.
func (g *group) parts() (head, tail []*txn.Txn, ok bool) {
	if g.tied == nil {
		return nil, nil, false
	}
	n := 0
	for _, tied := range g.tied {
		if !tied {
			n++
		}
	}
	if n == 0 {
		return nil, nil, false
	}
	head = make([]*txn.Txn, 0, n)
	tail = make([]*txn.Txn, 0, len(g.txns)-n)
	for i, t := range g.txns {
		if g.tied[i] {
			tail = append(tail, t)
		} else {
			head = append(head, t)
		}
	}
	return head, tail, true
}
