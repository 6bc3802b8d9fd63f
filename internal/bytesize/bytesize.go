// Package bytesize writes byte counts for people: B, KiB, MiB or GiB.
package bytesize

import "fmt"

// Human writes n bytes in B, KiB, MiB or GiB, with one decimal above B.
func Human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
