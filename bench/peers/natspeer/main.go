// natspeer — the NATS JetStream side of the peers benchmark (issue #18,
// docs/bench.md "Peers (issue #18)"), driven by bench/peers/peers_bench.py,
// which starts the servers (a hub and one edge server per county, each edge
// a leaf node of the hub with its own JetStream domain, file storage).
//
// Built offline against Debian's golang-github-nats-io-go-nats-dev (nats.go
// 1.22) in GOPATH mode (GO111MODULE=off GOPATH=/usr/share/gocode), as
// tests/interop/ is for the transparency log: no hand-written protocol code.
//
//	natspeer catchup -hub URL -edge URL -county C -domain D -n N
//	    The edge stream EDGE_C (subject ev.C, file storage) and the hub
//	    stream PROV (file storage, no source yet) are created; N records are
//	    published into the edge stream (PublishAsync, every ack awaited);
//	    then the hub stream is updated to source EDGE_C through the edge's
//	    domain ($JS.D.API, over the leaf link) and the time until the hub
//	    stream holds N messages is measured (StreamInfo polled every 100 ms).
//
//	natspeer trickle -hub URL -edges URL,... -counties C,... -domains D,...
//	                 -rate R -seconds S
//	    One edge stream per county, the hub stream sourcing them all; a push
//	    consumer on the hub stream (deliver new, no acks). Each county
//	    publishes R records a second (periodic from a random phase, one
//	    synchronous js.Publish at a time: its ack means the edge stored it);
//	    latency = the record's delivery from the hub stream minus the moment
//	    its publish ack came back, one monotonic clock in one process.
//
// Standard output: one JSON object. Exit status 1 when something could not
// be measured, 2 for bad arguments.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

const hubStream = "PROV"

// phrase is the 42-byte phrase hcp's bench records repeat 11 times
// (bench/repl.lua), so each record here is about 600 bytes too.
const phrase = "办理很快，工作人员态度很好。"

var content = strings.Repeat(phrase, 11)

// record is the evaluation as a county would publish it: the fields of
// hcp's evaluation event, JSON, about 600 bytes.
type record struct {
	County      string `json:"county"`
	Seq         int64  `json:"seq"`
	Created     string `json:"created"`
	UnitCode    string `json:"unit_code"`
	UnitName    string `json:"unit_name"`
	ItemCode    string `json:"item_code"`
	ItemName    string `json:"item_name"`
	Channel     string `json:"channel"`
	Rating      int    `json:"rating"`
	ContentText string `json:"content"`
}

// makeRecord builds record seq of county: the same fields and sizes as the
// PostgreSQL rows and hcp's evaluations of the benchmark.
func makeRecord(county string, seq int64) []byte {
	r := record{County: county, Seq: seq, Created: time.Now().UTC().Format(time.RFC3339Nano),
		UnitCode: "U1", UnitName: "城东区政务服务中心", ItemCode: "S1", ItemName: "营业执照",
		Channel: "web", Rating: 3 + int(seq%3),
		ContentText: fmt.Sprintf("%s 第t0组%d批%d号", content, seq/1000, seq%1000)}
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // a fixed struct of strings and ints always marshals
	}
	return b
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "natspeer: "+format+"\n", a...)
	os.Exit(1)
}

// connect opens a connection and its JetStream context; the async publish
// window bounds the acks awaited at once.
func connect(url, name string) (*nats.Conn, nats.JetStreamContext) {
	nc, err := nats.Connect(url, nats.Name(name), nats.Timeout(10*time.Second))
	if err != nil {
		fail("connect %s: %v", url, err)
	}
	js, err := nc.JetStream(nats.PublishAsyncMaxPending(4096), nats.MaxWait(30*time.Second))
	if err != nil {
		fail("jetstream %s: %v", url, err)
	}
	return nc, js
}

// edgeStream creates the county's stream on its edge server (file storage,
// kept by limits: nothing is removed during the run).
func edgeStream(js nats.JetStreamContext, county string) string {
	name := "EDGE_" + county
	_, err := js.AddStream(&nats.StreamConfig{Name: name, Subjects: []string{"ev." + county},
		Storage: nats.FileStorage, Retention: nats.LimitsPolicy, Replicas: 1})
	if err != nil {
		fail("add stream %s: %v", name, err)
	}
	return name
}

// source is the hub stream's source entry for a county's edge stream, reached
// through the edge's JetStream domain over the leaf link.
func source(county, domain string) *nats.StreamSource {
	return &nats.StreamSource{Name: "EDGE_" + county,
		External: &nats.ExternalStream{APIPrefix: "$JS." + domain + ".API"}}
}

func hubConfig(sources []*nats.StreamSource) *nats.StreamConfig {
	return &nats.StreamConfig{Name: hubStream, Subjects: []string{"prov.none"},
		Storage: nats.FileStorage, Retention: nats.LimitsPolicy, Replicas: 1, Sources: sources}
}

func hubMsgs(js nats.JetStreamContext) (uint64, error) {
	si, err := js.StreamInfo(hubStream)
	if err != nil {
		return 0, err
	}
	return si.State.Msgs, nil
}

func catchup(args []string) {
	fs := flag.NewFlagSet("catchup", flag.ExitOnError)
	hub := fs.String("hub", "", "hub URL")
	edge := fs.String("edge", "", "edge URL")
	county := fs.String("county", "630102", "county code")
	domain := fs.String("domain", "", "the edge's JetStream domain")
	n := fs.Int64("n", 100000, "records")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after")
	wait := fs.Bool("wait", false, "after the fill, print it and wait for a line on stdin")
	if err := fs.Parse(args); err != nil || *hub == "" || *edge == "" || *domain == "" {
		os.Exit(2)
	}
	enc, ejs := connect(*edge, "natspeer-edge")
	defer enc.Close()
	hnc, hjs := connect(*hub, "natspeer-hub")
	defer hnc.Close()
	edgeStream(ejs, *county)
	if _, err := hjs.AddStream(hubConfig(nil)); err != nil {
		fail("add hub stream: %v", err)
	}

	// fill the edge stream while the hub does not source it
	t0 := time.Now()
	subj := "ev." + *county
	var futs []nats.PubAckFuture
	for i := int64(1); i <= *n; i++ {
		f, err := ejs.PublishAsync(subj, makeRecord(*county, i))
		if err != nil {
			fail("publish %d: %v", i, err)
		}
		futs = append(futs, f)
		if len(futs) >= 4096 {
			waitAcks(futs)
			futs = futs[:0]
		}
	}
	waitAcks(futs)
	fill := time.Since(t0)
	si, err := ejs.StreamInfo("EDGE_" + *county)
	if err != nil || si.State.Msgs != uint64(*n) {
		fail("edge stream holds %v messages, not %d (%v)", si, *n, err)
	}

	filled := map[string]interface{}{"records": *n, "fill_seconds": fill.Seconds(),
		"fill_per_s": float64(*n) / fill.Seconds(), "edge_stream_bytes": si.State.Bytes,
		"record_bytes": len(makeRecord(*county, *n/2))}
	if *wait {
		emit(filled)
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			fail("waiting for the go-ahead: %v", err)
		}
	}

	// the hub starts sourcing: catch-up
	t1 := time.Now()
	if _, err := hjs.UpdateStream(hubConfig([]*nats.StreamSource{source(*county, *domain)})); err != nil {
		fail("update hub stream: %v", err)
	}
	var first time.Duration = -1
	var got uint64
	deadline := t1.Add(*timeout)
	for time.Now().Before(deadline) {
		got, err = hubMsgs(hjs)
		if err != nil {
			fail("hub stream info: %v", err)
		}
		if got > 0 && first < 0 {
			first = time.Since(t1)
		}
		if got >= uint64(*n) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	secs := time.Since(t1).Seconds()
	if got < uint64(*n) {
		fail("catch-up: %d of %d at the hub after %.0f s", got, *n, secs)
	}
	hsi, err := hjs.StreamInfo(hubStream)
	if err != nil {
		fail("hub stream info: %v", err)
	}
	out := map[string]interface{}{
		"records": *n, "record_bytes": len(makeRecord(*county, *n/2)),
		"fill_seconds": fill.Seconds(), "fill_per_s": float64(*n) / fill.Seconds(),
		"seconds": secs, "records_per_s": float64(*n) / secs,
		"first_at_hub_s":            first.Seconds(),
		"records_per_s_after_first": float64(*n) / (secs - first.Seconds()),
		"edge_stream_bytes":         si.State.Bytes, "hub_stream_bytes": hsi.State.Bytes,
		"poll_s": 0.1}
	emit(out)
}

// waitAcks waits for every publish ack of futs; any error ends the run.
func waitAcks(futs []nats.PubAckFuture) {
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			fail("publish ack: %v", err)
		case <-time.After(60 * time.Second):
			fail("publish ack: no answer in 60 s")
		}
	}
}

func emit(v interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		fail("json: %v", err)
	}
	fmt.Println(string(b))
}

type key struct {
	county string
	seq    int64
}

func trickle(args []string) {
	fs := flag.NewFlagSet("trickle", flag.ExitOnError)
	hub := fs.String("hub", "", "hub URL")
	edgesArg := fs.String("edges", "", "edge URLs, comma separated")
	countiesArg := fs.String("counties", "", "county codes, comma separated")
	domainsArg := fs.String("domains", "", "the edges' JetStream domains, comma separated")
	rate := fs.Float64("rate", 20, "records per second per county")
	seconds := fs.Float64("seconds", 20, "how long")
	if err := fs.Parse(args); err != nil || *hub == "" {
		os.Exit(2)
	}
	edges := strings.Split(*edgesArg, ",")
	counties := strings.Split(*countiesArg, ",")
	domains := strings.Split(*domainsArg, ",")
	if len(edges) == 0 || len(edges) != len(counties) || len(edges) != len(domains) {
		fmt.Fprintln(os.Stderr, "natspeer: -edges, -counties and -domains must match")
		os.Exit(2)
	}
	hnc, hjs := connect(*hub, "natspeer-hub")
	defer hnc.Close()
	var sources []*nats.StreamSource
	ejs := make([]nats.JetStreamContext, len(edges))
	for i, u := range edges {
		nc, js := connect(u, "natspeer-edge-"+counties[i])
		defer nc.Close()
		edgeStream(js, counties[i])
		ejs[i] = js
		sources = append(sources, source(counties[i], domains[i]))
	}
	if _, err := hjs.AddStream(hubConfig(sources)); err != nil {
		fail("add hub stream: %v", err)
	}

	var mu sync.Mutex
	acked := map[key]time.Time{}
	sent := map[key]time.Time{}
	seen := map[key]time.Time{}
	sub, err := hjs.Subscribe("", func(m *nats.Msg) {
		at := time.Now()
		var r record
		if json.Unmarshal(m.Data, &r) != nil {
			return
		}
		mu.Lock()
		seen[key{r.County, r.Seq}] = at
		mu.Unlock()
	}, nats.BindStream(hubStream), nats.DeliverAll(), nats.AckNone())
	if err != nil {
		fail("subscribe to the hub stream: %v", err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	// warm-up: one record per county (seq 0) must reach the hub before the
	// measured ones (the sources' consumers are made over the leaf links)
	for i, c := range counties {
		if _, err := ejs[i].Publish("ev."+c, makeRecord(c, 0)); err != nil {
			fail("warm-up publish %s: %v", c, err)
		}
	}
	warm := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		k := len(seen)
		mu.Unlock()
		if k >= len(counties) {
			break
		}
		if time.Now().After(warm) {
			fail("warm-up: %d of %d counties' records reached the hub in 60 s", k, len(counties))
		}
		time.Sleep(20 * time.Millisecond)
	}
	warmS := time.Since(warm.Add(-60 * time.Second)).Seconds()

	period := time.Duration(float64(time.Second) / *rate)
	var wg sync.WaitGroup
	pubLat := make([][]float64, len(counties))
	errs := make([]int, len(counties))
	start := time.Now()
	end := start.Add(time.Duration(*seconds * float64(time.Second)))
	rng := rand.New(rand.NewSource(4))
	for i := range counties {
		phase := time.Duration(rng.Int63n(int64(period)))
		wg.Add(1)
		go func(i int, phase time.Duration) {
			defer wg.Done()
			c := counties[i]
			due := start.Add(phase)
			for seq := int64(1); ; seq++ {
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
				if time.Now().After(end) {
					return
				}
				t0 := time.Now()
				_, err := ejs[i].Publish("ev."+c, makeRecord(c, seq))
				at := time.Now()
				if err != nil {
					errs[i]++
				} else {
					mu.Lock()
					acked[key{c, seq}] = at
					sent[key{c, seq}] = t0
					mu.Unlock()
					pubLat[i] = append(pubLat[i], at.Sub(t0).Seconds()*1000)
				}
				due = due.Add(period)
			}
		}(i, phase)
	}
	wg.Wait()
	wall := time.Since(start).Seconds()
	// the last records: up to 10 s
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		missing := 0
		for k := range acked {
			if _, ok := seen[k]; !ok {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	var lat, latSent []float64
	missing := 0
	for k, a := range acked {
		s, ok := seen[k]
		if !ok {
			missing++
			continue
		}
		lat = append(lat, s.Sub(a).Seconds()*1000)
		latSent = append(latSent, s.Sub(sent[k]).Seconds()*1000)
	}
	mu.Unlock()
	var pubs []float64
	nerr := 0
	for i := range counties {
		pubs = append(pubs, pubLat[i]...)
		nerr += errs[i]
	}
	sort.Float64s(pubs)
	out := map[string]interface{}{
		"counties": len(counties), "rate_per_county": *rate, "seconds": *seconds,
		"wall_s": wall, "published": len(acked), "publish_errors": nerr,
		"not_at_hub": missing, "latency_ms": lat, "latency_from_sent_ms": latSent, "warmup_s": warmS,
		"publish_ack_p50_ms": quantile(pubs, 0.5), "publish_ack_p99_ms": quantile(pubs, 0.99)}
	if len(lat) == 0 {
		fail("trickle: no record reached the hub")
	}
	emit(out)
}

// quantile of sorted v (nearest rank); 0 when empty.
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	i := int(q*float64(len(v))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(v) {
		i = len(v) - 1
	}
	return v[i]
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: natspeer catchup|trickle [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "catchup":
		catchup(os.Args[2:])
	case "trickle":
		trickle(os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "natspeer: unknown command", os.Args[1])
		os.Exit(2)
	}
}
