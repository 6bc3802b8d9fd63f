// Package seedgen draws what a soak seed runs from the seed alone: its Plan
// (the random subset of Features and the binlog format) and its Workload
// (the base schema and rows, and the scripts each source session runs,
// DDL included). Nothing here touches a server.
package seedgen

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Random streams of a seed: the workload and the replay draw from streams
// of their own, so that switching a replay feature off does not change the
// workload of a seed, and the reverse.
const (
	streamPlan uint64 = iota + 1
	StreamReplay
	streamFeatures
	streamSession // + the session's number: keep last
)

// NewRand returns the random source of stream for seed.
func NewRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream*0x9E3779B97F4A7C15))
}

// Plan is what a seed is made of, drawn from the seed and the mask.
type Plan struct {
	Seed     uint64
	Features Features
	// Format is the source's global binlog format.
	Format string
	// Sessions is the number of concurrent source sessions; TxnsPerSession
	// how many scripts each one runs.
	Sessions       int
	TxnsPerSession int
	// MaxBinlogSize is the source's max_binlog_size (0: the default).
	MaxBinlogSize int
	// RowImage is the source's binlog_row_image ("": FULL, the default).
	RowImage string
	// BinlogOptions are the source's mariadbd options that change how
	// its binlog is written (FeatBinlogOptions).
	BinlogOptions []string
	// Crash is the source's crash (FeatSourceCrash), nil without one.
	Crash *CrashPlan
}

// CrashPlan is how the source crashes (FeatSourceCrash): while it writes
// a last transaction to its binlog, which writes the InnoDB table tc_i, or
// (NonTrans) the MyISAM table tc_m. The file is cut At (0 to 1) of the
// way through that transaction's bytes: 0 leaves none of it (the crash
// came just before), else at an event boundary inside it after its GTID
// event, or (MidEvent) at any byte after that event. The restarted server
// then runs After.
//
// With Shadow, a session holding a temporary table tc_shadow (statement
// format) is lost in the crash, and a session of the restarted server
// given its thread id creates a permanent tc_shadow and writes it: where
// the binlogs show the restart, the temporary tables of before must be
// gone, as on the source.
type CrashPlan struct {
	NonTrans bool
	At       float64
	MidEvent bool
	Shadow   bool
}

// NewPlan draws the plan of seed: its features (a subset of mask), its
// binlog format (format, or drawn when empty) and its size.
func NewPlan(seed uint64, mask Features, format string) Plan {
	rng := NewRand(seed, streamPlan)
	p := Plan{Seed: seed}
	// Features come from a stream of their own, drawn over the fixed list
	// of every feature: a feature added at the end of the list changes
	// neither the other features of a seed nor its format and size.
	p.Features = mask.subset(NewRand(seed, streamFeatures), 0.45)
	if p.Features[FeatHotBackup] {
		// A hot backup holds no MEMORY table's rows (they live in the
		// server's memory): the binlogs after it change rows its base
		// lacks, which the replay and the anchor both refuse.
		delete(p.Features, FeatMemory)
		// Nor sequence numbers out of order: a hot base lands among them,
		// where a GTID position is ambiguous (MariaDB, asked to start at
		// one, sends from the first higher sequence number, which may be
		// in the base: seed 110047); reading files, the replay refuses
		// such a start, and the soak's model of it assumes a base before
		// the workload.
		delete(p.Features, FeatSeqNo)
	}
	formats := []string{"ROW", "MIXED", "STATEMENT"}
	p.Format = formats[rng.IntN(len(formats))]
	if format != "" {
		p.Format = format
	}
	p.Sessions = 2 + rng.IntN(3)
	p.TxnsPerSession = 250/p.Sessions + rng.IntN(40)
	if p.Features[FeatMultiFile] {
		p.MaxBinlogSize = 64<<10 + rng.IntN(192<<10)
	}
	// Drawn last: the draws above stay what they were for every seed.
	if p.Features[FeatRowImage] {
		p.RowImage = []string{"MINIMAL", "NOBLOB"}[rng.IntN(2)]
	}
	if p.Features[FeatBinlogOptions] {
		p.BinlogOptions = binlogOptions(NewRand(seed, streamPlan+100))
	}
	if p.Features[FeatSourceCrash] {
		rng := NewRand(seed, streamPlan+400)
		p.Crash = &CrashPlan{NonTrans: rng.IntN(5) == 0, MidEvent: rng.IntN(3) == 0}
		if rng.IntN(6) > 0 {
			p.Crash.At = rng.Float64()
		}
		p.Crash.Shadow = rng.IntN(2) == 0
	}
	return p
}

// binlogOptions draws at least one of the source's binlog options.
func binlogOptions(rng *rand.Rand) []string {
	for {
		var opts []string
		if rng.IntN(2) == 0 {
			opts = append(opts, "--log-bin-compress=ON", fmt.Sprintf("--log-bin-compress-min-len=%d", 10+rng.IntN(200)))
		}
		if rng.IntN(2) == 0 {
			opts = append(opts, "--binlog-checksum=NONE")
		}
		if rng.IntN(2) == 0 {
			opts = append(opts, "--binlog-annotate-row-events=OFF")
		}
		if rng.IntN(2) == 0 {
			// Table maps with column names, signedness, character sets,
			// keys (FULL) or some of them (MINIMAL).
			opts = append(opts, "--binlog-row-metadata="+[]string{"FULL", "MINIMAL"}[rng.IntN(2)])
		}
		if rng.IntN(3) == 0 {
			// One statement's rows split over many row events.
			opts = append(opts, "--binlog-row-event-max-size=1024")
		}
		if len(opts) > 0 {
			return opts
		}
	}
}

// Has reports whether the plan has any of the features.
func (p Plan) Has(fs ...Feature) bool {
	for _, f := range fs {
		if p.Features[f] {
			return true
		}
	}
	return false
}

// String describes the plan in one line.
func (p Plan) String() string {
	image := ""
	if p.RowImage != "" {
		image = " row_image=" + p.RowImage
	}
	if len(p.BinlogOptions) > 0 {
		image += " " + strings.Join(p.BinlogOptions, " ")
	}
	return fmt.Sprintf("format=%s%s sessions=%d txns/session=%d features=%s", p.Format, image, p.Sessions, p.TxnsPerSession, p.Features)
}
