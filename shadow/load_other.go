//go:build !linux

package shadow

// defaultLoadReader is nil where machine CPU counters are not read: the
// CPU guard never sheds there.
func defaultLoadReader() LoadReader { return nil }
