package shadow

// Arrays of different lengths are aligned before they are compared: with
// index against index, one element inserted at the front of a list would
// show every later element as changed. Elements equal as a whole under the
// route's rules (canonical encoding: ignore_paths left out,
// unordered_arrays applied) are matched as anchors — the common prefix and
// suffix, then a longest common subsequence of the middle — and the runs
// between anchors are compared pairwise in order, the surplus of the longer
// run being removed or added.
//
// The ignore rules take part on purpose: items carry volatile fields (ids,
// timestamps) that ignore_paths exist for, and a tenant-aware service that
// returns a subset of a list must read as "these items removed", not as
// every item changed. So ignoring a path can change how an array aligns:
// it removes that path's differences, and may turn pairs that differed
// only there into anchors.

// maxAlignCells bounds the longest-common-subsequence table (middle
// lengths multiplied); beyond it the middle is compared index by index.
const maxAlignCells = 1 << 18

// walkAligned compares two arrays of different lengths; paths carry the
// primary's index for changed and removed elements, the candidate's for
// added ones.
func (d *differ) walkAligned(aa, ba []any) {
	ka, kb := d.alignKeys(aa), d.alignKeys(ba)
	pairs := alignPairs(ka, kb)
	i, j := 0, 0
	for _, p := range append(pairs, [2]int{len(aa), len(ba)}) {
		d.walkRun(aa, ba, i, p[0], j, p[1])
		i, j = p[0]+1, p[1]+1
	}
}

// walkRun compares aa[i0:i1] with ba[j0:j1], a run between anchors.
func (d *differ) walkRun(aa, ba []any, i0, i1, j0, j1 int) {
	n := min(i1-i0, j1-j0)
	for k := 0; k < n; k++ {
		d.path = append(d.path, segment{kind: segIndex, index: i0 + k})
		d.walk(aa[i0+k], ba[j0+k])
		d.path = d.path[:len(d.path)-1]
	}
	for i := i0 + n; i < i1; i++ {
		d.child(segment{kind: segIndex, index: i}, func() { d.emit(KindRemoved, aa[i], nil, true, false) })
	}
	for j := j0 + n; j < j1; j++ {
		d.child(segment{kind: segIndex, index: j}, func() { d.emit(KindAdded, nil, ba[j], false, true) })
	}
}

// alignKeys encodes each element canonically under the rules.
func (d *differ) alignKeys(x []any) []string {
	keys := make([]string, len(x))
	for i, v := range x {
		keys[i] = d.canonicalAt(i, v)
	}
	return keys
}

// alignPairs returns the anchors (i, j), increasing in both: the common
// prefix, a longest common subsequence of the middle, the common suffix.
func alignPairs(a, b []string) [][2]int {
	var pairs [][2]int
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		pairs = append(pairs, [2]int{p, p})
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	ma, mb := a[p:len(a)-s], b[p:len(b)-s]
	if len(ma) > 0 && len(mb) > 0 && len(ma)*len(mb) <= maxAlignCells {
		for _, m := range lcs(ma, mb) {
			pairs = append(pairs, [2]int{p + m[0], p + m[1]})
		}
	}
	for k := s; k > 0; k-- {
		pairs = append(pairs, [2]int{len(a) - k, len(b) - k})
	}
	return pairs
}

// lcs returns the index pairs of a longest common subsequence of a and b.
// Where skipping either element keeps the length, the element with the
// smaller key is skipped: the choice depends on the two elements, not on
// which side is the primary, so the alignment of (b, a) mirrors that of
// (a, b) and so do the differences.
func lcs(a, b []string) [][2]int {
	n, m := len(a), len(b)
	// t[i][j]: LCS length of a[i:] and b[j:], in one slice.
	w := m + 1
	t := make([]int32, (n+1)*w)
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			switch {
			case a[i] == b[j]:
				t[i*w+j] = t[(i+1)*w+j+1] + 1
			case t[(i+1)*w+j] >= t[i*w+j+1]:
				t[i*w+j] = t[(i+1)*w+j]
			default:
				t[i*w+j] = t[i*w+j+1]
			}
		}
	}
	var out [][2]int
	for i, j := 0, 0; i < n && j < m; {
		skipA, skipB := t[(i+1)*w+j], t[i*w+j+1]
		switch {
		case a[i] == b[j]: // a match is always on a longest path
			out = append(out, [2]int{i, j})
			i++
			j++
		case skipA > skipB, skipA == skipB && a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return out
}
