// openloop: the benchmark's fixed-rate HTTP client (see bench/loadgen.py, which builds and runs it).
//
// It sends POST /api/v1/messages/send at a fixed rate over persistent HTTP/1.1 connections and times each
// request from its *scheduled* send time, so a server that falls behind cannot hide its queueing delay
// (no coordinated omission): when every connection is busy, due requests wait in a queue and that wait
// counts. A second goroutine subscribes to the projections' Redis channel and notes when each command's
// final status reaches the read model.
//
// It writes one JSON document: counts plus, per answered command, its id and the wall-clock times (Unix
// seconds) it was scheduled, answered and seen final in the read model (null when never seen). Percentiles
// are computed by the Python side, from these raw times.
//
// A Python asyncio client used to do this; at 1,000 commands/s it took a fifth of a core and its own
// event-loop lag showed up as server latency. This one uses the standard library only.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

type result struct {
	Sent   int              `json:"sent"`
	Errors int              `json:"errors"`
	Trace  [][4]interface{} `json:"trace"`
}

type answer struct {
	commandID string
	scheduled time.Time
	answered  time.Time
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func request(host string, port, i int, content string) []byte {
	body, _ := json.Marshal(map[string]string{
		"from_agent": fmt.Sprintf("fixed-s%d", i%64), "to_agent": fmt.Sprintf("fixed-r%d", i%64),
		"tenant_id": "bench", "message_type": "command", "priority": "normal", "content": content,
		"constitutional_hash": "cdd01ef066bc6cf2",
	})
	head := fmt.Sprintf("POST /api/v1/messages/send HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\n\r\n", host, port, len(body))
	return append([]byte(head), body...)
}

var commandIDKey = []byte(`"command_id":"`)

// commandIDOf finds the command id in a 202 answer without decoding the rest of it.
func commandIDOf(body []byte) string {
	at := bytes.Index(body, commandIDKey)
	if at < 0 {
		return ""
	}
	rest := body[at+len(commandIDKey):]
	end := bytes.IndexByte(rest, '"')
	if end <= 0 {
		return ""
	}
	return string(rest[:end])
}

// readResponse reads one HTTP/1.1 response with a Content-Length body; returns status and body.
func readResponse(r *bufio.Reader) (int, []byte, error) {
	status, length := 0, -1
	for first := true; ; first = false {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if first {
			parts := strings.SplitN(line, " ", 3)
			if len(parts) < 2 {
				return 0, nil, fmt.Errorf("bad status line %q", line)
			}
			if status, err = strconv.Atoi(parts[1]); err != nil {
				return 0, nil, err
			}
			continue
		}
		if line == "" {
			break
		}
		if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "content-length") {
			if length, err = strconv.Atoi(strings.TrimSpace(value)); err != nil {
				return 0, nil, err
			}
		}
	}
	if length < 0 {
		return 0, nil, fmt.Errorf("response without Content-Length")
	}
	body := make([]byte, length)
	_, err := io.ReadFull(r, body)
	return status, body, err
}

// readRESP reads one RESP2 value: arrays become []interface{}, bulk strings []byte, integers int64.
func readRESP(r *bufio.Reader) (interface{}, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return nil, fmt.Errorf("empty RESP line")
	}
	switch line[0] {
	case '*':
		n, _ := strconv.Atoi(line[1:])
		items := []interface{}{}
		for i := 0; i < n; i++ {
			item, err := readRESP(r)
			if err != nil {
				return nil, err
			}
			items = append(items, item)
		}
		return items, nil
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return buf[:n], nil
	case ':':
		n, _ := strconv.ParseInt(line[1:], 10, 64)
		return n, nil
	case '-':
		return nil, fmt.Errorf("redis: %s", line[1:])
	default:
		return line[1:], nil
	}
}

type watcher struct {
	mu      sync.Mutex
	visible map[string]time.Time
}

func (w *watcher) seen(id string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.visible[id]
	return t, ok
}

// watch subscribes to channel and records the first time each command id is reported final: the "c" list of a
// projections' notification names the commands whose final status was just committed.
func (w *watcher) watch(conn net.Conn, channel string, subscribed chan<- error) {
	fmt.Fprintf(conn, "*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n", len(channel), channel)
	r := bufio.NewReaderSize(conn, 1<<16)
	confirmed := false
	for {
		value, err := readRESP(r)
		if err != nil {
			if !confirmed {
				subscribed <- err
			}
			return
		}
		now := time.Now()
		items, ok := value.([]interface{})
		if !ok || len(items) < 3 {
			continue
		}
		kind, _ := items[0].([]byte)
		if string(kind) == "subscribe" && !confirmed {
			confirmed = true
			subscribed <- nil
			continue
		}
		data, _ := items[2].([]byte)
		if string(kind) != "message" || data == nil {
			continue
		}
		var note struct {
			C []string `json:"c"`
		}
		if json.Unmarshal(data, &note) != nil {
			continue
		}
		w.mu.Lock()
		for _, id := range note.C {
			if _, done := w.visible[id]; !done {
				w.visible[id] = now
			}
		}
		w.mu.Unlock()
	}
}

func main() {
	host := flag.String("host", "127.0.0.1", "gateway host")
	port := flag.Int("port", 8080, "gateway port")
	rate := flag.Int("rate", 1000, "commands per second")
	seconds := flag.Int("seconds", 10, "duration of the run")
	connections := flag.Int("connections", 48, "persistent HTTP connections")
	contentBytes := flag.Int("content-bytes", 200, "message content size")
	redisAddr := flag.String("redis", "127.0.0.1:6379", "Redis address (host:port) of the notify channel")
	channel := flag.String("channel", "acgs:notify", "Redis channel the projections publish to")
	waitVisible := flag.Duration("wait-visible", 30*time.Second, "how long to wait for stragglers")
	flag.Parse()
	// One OS thread runs the goroutines: on a 2-core machine shared with the platform under test, handing
	// work between threads cost more CPU than the requests themselves.
	runtime.GOMAXPROCS(1)

	rconn, err := net.Dial("tcp", *redisAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "openloop: redis:", err)
		os.Exit(2)
	}
	w := &watcher{visible: map[string]time.Time{}}
	subscribed := make(chan error, 1)
	go w.watch(rconn, *channel, subscribed)
	if err := <-subscribed; err != nil {
		fmt.Fprintln(os.Stderr, "openloop: subscribe:", err)
		os.Exit(2)
	}

	total := *rate * *seconds
	content := strings.Repeat("x", *contentBytes)
	requests := make([][]byte, 64) // 64 sender/recipient pairs, as bench/send.lua cycles through for wrk
	for i := range requests {
		requests[i] = request(*host, *port, i, content)
	}
	jobs := make(chan int, total)
	answers := make(chan answer, total)
	errors := make(chan struct{}, total)
	t0 := time.Now().Add(200 * time.Millisecond)
	interval := time.Second / time.Duration(*rate)
	scheduledAt := func(i int) time.Time { return t0.Add(time.Duration(i) * interval) }

	var wg sync.WaitGroup
	for c := 0; c < *connections; c++ {
		conn, err := net.Dial("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
		if err != nil {
			fmt.Fprintln(os.Stderr, "openloop: gateway:", err)
			os.Exit(2)
		}
		wg.Add(1)
		go func(conn net.Conn) {
			defer wg.Done()
			defer conn.Close()
			r := bufio.NewReaderSize(conn, 1<<16)
			for i := range jobs {
				if _, err := conn.Write(requests[i%len(requests)]); err != nil {
					errors <- struct{}{}
					continue
				}
				status, body, err := readResponse(r)
				done := time.Now()
				if err != nil || status != 202 {
					errors <- struct{}{}
					if err != nil {
						return // the connection is unusable; the others carry on
					}
					continue
				}
				commandID := commandIDOf(body)
				if commandID == "" {
					errors <- struct{}{}
					continue
				}
				answers <- answer{commandID, scheduledAt(i), done}
			}
		}(conn)
	}
	for i := 0; i < total; i++ {
		time.Sleep(time.Until(scheduledAt(i)))
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(answers)

	collected := make([]answer, 0, total)
	for a := range answers {
		collected = append(collected, a)
	}
	deadline := time.Now().Add(*waitVisible)
	for time.Now().Before(deadline) {
		missing := 0
		for _, a := range collected {
			if _, ok := w.seen(a.commandID); !ok {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	out := result{Sent: total, Errors: len(errors), Trace: make([][4]interface{}, 0, len(collected))}
	for _, a := range collected {
		var visible interface{}
		if t, ok := w.seen(a.commandID); ok {
			visible = unix(t)
		}
		out.Trace = append(out.Trace, [4]interface{}{a.commandID, unix(a.scheduled), unix(a.answered), visible})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "openloop:", err)
		os.Exit(1)
	}
	os.Stdout.Write(buf.Bytes())
}
