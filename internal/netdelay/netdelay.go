// Package netdelay is a TCP proxy that adds network latency: a client that
// connects to the proxy instead of the server sees a link whose round trip
// takes a fixed extra time, as between hosts in different racks, zones or
// regions. bench uses it for --target-latency.
//
// Every byte is held for half the added round trip in each direction,
// counted from when the proxy read it to when it writes it on: a request
// and its answer (one turn of a request/response protocol such as MySQL's)
// take the whole added round trip more. Bytes in flight do not wait for one
// another: a stream of many packets, or several requests sent before their
// answers, pays the delay once, not once per packet, as on a real link.
// There is no bandwidth limit, loss or jitter. The delay is a minimum: the
// scheduler adds its own wake-up latency, more on a busy machine (on 2
// busy cores at a load of 6, 2 ms asked for added about 2.3 ms);
// RoundTrip says what was added.
package netdelay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// bufSize is the most one read takes from a connection.
const bufSize = 64 << 10

// Proxy forwards the connections it accepts to its upstream address, each
// direction delayed by half the round trip given to Listen. Its methods are
// safe for concurrent use.
type Proxy struct {
	ln       net.Listener
	upstream string
	oneWay   time.Duration

	// ctx ends when the proxy closes: it bounds the dials to upstream.
	ctx    context.Context
	cancel context.CancelFunc

	// cpu is the CPU time, in nanoseconds, of the forwarding goroutines
	// that have ended.
	cpu atomic.Int64
	// late and wakes sum how late the forwarding woke, in nanoseconds,
	// when a chunk came due.
	late, wakes atomic.Int64

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Listen starts a proxy on 127.0.0.1 (a free port) that forwards every
// connection to upstream ("host:port") and adds rtt to each round trip.
// ctx bounds the proxy: when it ends, the proxy closes as Close does.
func Listen(ctx context.Context, upstream string, rtt time.Duration) (*Proxy, error) {
	if rtt < 0 {
		return nil, fmt.Errorf("netdelay: negative round trip %s", rtt)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("netdelay: listen: %w", err)
	}
	pctx, cancel := context.WithCancel(ctx)
	p := &Proxy{ln: ln, upstream: upstream, oneWay: rtt / 2, ctx: pctx, cancel: cancel,
		conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	context.AfterFunc(pctx, func() { p.Close() })
	return p, nil
}

// Addr returns the address clients connect to instead of upstream.
func (p *Proxy) Addr() *net.TCPAddr { return p.ln.Addr().(*net.TCPAddr) }

// CPU returns the processor time the proxy's forwarding has used on the
// connections that have ended (every connection, once Close has returned).
func (p *Proxy) CPU() time.Duration { return time.Duration(p.cpu.Load()) }

// RoundTrip returns the round trip the proxy has added so far, as
// measured: the round trip asked for plus twice the mean lateness of its
// wake-ups when a chunk came due (just the round trip asked for before
// any). It leaves out how late the proxy read a chunk after it arrived,
// and the time a write waits for a receiver that does not keep up (that
// is the receiver's, not the link's).
func (p *Proxy) RoundTrip() time.Duration {
	rtt := 2 * p.oneWay
	if n := p.wakes.Load(); n > 0 {
		rtt += time.Duration(2 * p.late.Load() / n)
	}
	return rtt
}

// woke records a wake-up at now for a chunk due at due.
func (p *Proxy) woke(now, due time.Time) {
	p.late.Add(int64(max(0, now.Sub(due))))
	p.wakes.Add(1)
}

// Close stops accepting, cuts every open connection and waits until every
// goroutine of the proxy has returned. It returns nil, also when called
// again.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.ln.Close()
		for c := range p.conns {
			c.Close()
		}
	}
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	return nil
}

// track records c as open, or closes it and returns false when the proxy
// is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

// untrack closes c and forgets it.
func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c.Close()
	delete(p.conns, c)
}

// accept serves the listener until it is closed.
func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve connects client to upstream and forwards both ways until both
// directions have ended; an error in one cuts the other.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	defer p.untrack(client)
	var d net.Dialer
	server, err := d.DialContext(p.ctx, "tcp", p.upstream)
	if err != nil {
		return // the client sees its connection closed
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)
	var wg sync.WaitGroup
	wg.Add(2)
	for _, dir := range [][2]net.Conn{{client, server}, {server, client}} {
		go func() {
			defer wg.Done()
			if err := p.pump(dir[1], dir[0]); err != nil {
				client.Close()
				server.Close()
			}
		}()
	}
	wg.Wait()
}

// chunk is what one read returned, due to be written at due.
type chunk struct {
	due  time.Time
	data []byte
}

// pump copies src to dst, writing each chunk p.oneWay after it was read,
// until src ends (dst's write side is then closed) or either fails. Its
// goroutine keeps its OS thread so that the thread's CPU time is the
// pump's, which CPU reports.
func (p *Proxy) pump(dst, src net.Conn) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	defer func() { p.cpu.Add(int64(threadCPU() - start)) }()

	buf := make([]byte, bufSize)
	var queue []chunk // read, not yet written, oldest first
	eof := false
	for {
		now := time.Now()
		n := 0
		for n < len(queue) && !queue[n].due.After(now) {
			if _, err := dst.Write(queue[n].data); err != nil {
				return fmt.Errorf("netdelay: write: %w", err)
			}
			n++
		}
		queue = append(queue[:0], queue[n:]...)
		var next time.Time
		if len(queue) > 0 {
			next = queue[0].due
		}
		if eof {
			if len(queue) == 0 {
				return closeWrite(dst)
			}
			time.Sleep(time.Until(next))
			p.woke(time.Now(), next)
			continue
		}
		// Read until the next chunk is due, then write what is due.
		if err := src.SetReadDeadline(next); err != nil {
			return fmt.Errorf("netdelay: %w", err)
		}
		m, err := src.Read(buf)
		if m > 0 {
			queue = append(queue, chunk{due: time.Now().Add(p.oneWay), data: append([]byte(nil), buf[:m]...)})
		}
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			p.woke(time.Now(), next)
		case errors.Is(err, io.EOF):
			eof = true
		default:
			return fmt.Errorf("netdelay: read: %w", err)
		}
	}
}

// closeWrite passes an end of stream on: it closes c's write side.
func closeWrite(c net.Conn) error {
	if tc, ok := c.(*net.TCPConn); ok {
		if err := tc.CloseWrite(); err != nil {
			return fmt.Errorf("netdelay: %w", err)
		}
		return nil
	}
	return c.Close()
}
