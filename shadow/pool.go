package shadow

import "sync"

// bufferPool hands out byte slices in a few size classes, the largest being
// max_body_bytes, so a capture starts small and a large body never needs
// more than one buffer of the cap. Slices of any other capacity are not
// pooled. Only pointers to slices go through sync.Pool, which then does not
// allocate on Put.
type bufferPool struct {
	classes []int
	pools   []sync.Pool
}

// firstClass is the smallest buffer: most API bodies fit in it.
const firstClass = 4 << 10

func newBufferPool(max int) *bufferPool {
	var classes []int
	for c := firstClass; c < max; c *= 4 {
		classes = append(classes, c)
	}
	classes = append(classes, max)
	p := &bufferPool{classes: classes, pools: make([]sync.Pool, len(classes))}
	for i := range p.pools {
		size := classes[i]
		p.pools[i].New = func() any {
			b := make([]byte, 0, size)
			return &b
		}
	}
	return p
}

// max is the largest buffer the pool hands out.
func (p *bufferPool) max() int { return p.classes[len(p.classes)-1] }

// get returns an empty buffer with capacity of at least n (at most max).
func (p *bufferPool) get(n int) *[]byte {
	for i, c := range p.classes {
		if n <= c || i == len(p.classes)-1 {
			b := p.pools[i].Get().(*[]byte)
			*b = (*b)[:0]
			return b
		}
	}
	panic("unreachable")
}

// put returns a buffer obtained from get.
func (p *bufferPool) put(b *[]byte) {
	if b == nil {
		return
	}
	c := cap(*b)
	for i, cl := range p.classes {
		if c == cl {
			*b = (*b)[:0]
			p.pools[i].Put(b)
			return
		}
	}
}
