// Command tlogcheck checks an hcp gateway's transparency log with Go's own
// transparency-log code, golang.org/x/mod/sumdb/tlog and sumdb/note (the
// code that checks the Go module checksum database), written and kept by
// others: an independent verifier of hcp's checkpoints, tiles and proofs.
//
// Usage:
//
//	tlogcheck [-key VKEY] [-old CHECKPOINT_FILE] [-case ID] SOURCE
//
// SOURCE is the gateway's base URL (http://host:port) or a directory of
// published files (log/key, log/checkpoint, log/tile/...). It
//
//  1. reads log/key (or takes -key) and opens log/checkpoint with
//     note.NewVerifier and note.Open: the Ed25519 signed note must verify;
//  2. parses the checkpoint body (origin, size, root). tlog.ParseTree only
//     reads the go.sum database's first line ("go.sum database tree"), so
//     the origin line is checked here and the size and root lines are
//     handed to tlog.ParseTree behind that line;
//  3. reads hash tiles through tlog.TileHashReader, which authenticates
//     every tile against the signed root. Go names tiles tile/H/L/N with
//     the height H in the path and tile/H/data/N for record data; C2SP
//     tlog-tiles (what hcp serves) has a fixed height 8 and names them
//     tile/L/N and tile/entries/N. The reader maps Go's names onto C2SP's;
//     the N[.p/W] part is the same in both;
//  4. reads every entry bundle (2-byte big-endian length, then the entry),
//     hashes each entry with tlog.RecordHash and checks its inclusion with
//     tlog.ProveRecord and tlog.CheckRecord against the signed root;
//  5. with -old, proves the old checkpoint's tree a prefix of the current
//     one with tlog.ProveTree and tlog.CheckTree;
//  6. with -case, requires at least one entry whose service_request_id is ID.
//
// Exit status: 0 verified, 1 verification failed (a tile or bundle the
// checkpoint covers that cannot be read included), 2 usage error, or the key
// or checkpoint unreachable. Built offline from Debian's golang-golang-x-mod-dev
// (GOPATH=/usr/share/gocode, GO111MODULE=off); tests/system/test_tlog_go.py.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// height is C2SP tlog-tiles' fixed tile height (256 hashes a tile).
const height = 8

// errSource marks a failure to read the source (exit 2), not a failed check.
var errSource = errors.New("source unreachable")

// source reads the published files by their path under log/.
type source struct {
	base   string // URL without trailing slash, or ""
	dir    string // directory, or ""
	client *http.Client
	reads  int
}

// get returns the bytes at log/<p>; a 404 or a missing file is an error
// (a tile the checkpoint covers must exist).
func (s *source) get(p string) ([]byte, error) {
	s.reads++
	if s.dir != "" {
		b, err := os.ReadFile(filepath.Join(s.dir, "log", filepath.FromSlash(p)))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errSource, err)
		}
		return b, nil
	}
	resp, err := s.client.Get(s.base + "/log/" + p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSource, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<24))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSource, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: GET /log/%s: HTTP %d", errSource, p, resp.StatusCode)
	}
	return b, nil
}

// c2spPath maps a Go tile path (tile/8/L/N[.p/W], tile/8/data/N[.p/W]) to
// the C2SP tlog-tiles path hcp serves (tile/L/N[.p/W], tile/entries/N[.p/W]).
func c2spPath(t tlog.Tile) (string, error) {
	goPath := t.Path()
	prefix := fmt.Sprintf("tile/%d/", height)
	if t.H != height || !strings.HasPrefix(goPath, prefix) {
		return "", fmt.Errorf("tile %s: not of height %d", goPath, height)
	}
	rest := strings.TrimPrefix(goPath, prefix)
	if strings.HasPrefix(rest, "data/") {
		return "tile/entries/" + strings.TrimPrefix(rest, "data/"), nil
	}
	return "tile/" + rest, nil
}

// tileReader is a tlog.TileReader over a source; tiles are kept in memory
// (TileHashReader authenticates them on every read anyway).
type tileReader struct {
	src   *source
	cache map[string][]byte
}

func (r *tileReader) Height() int { return height }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		p, err := c2spPath(t)
		if err != nil {
			return nil, err
		}
		b, ok := r.cache[p]
		if !ok {
			if b, err = r.src.get(p); err != nil {
				return nil, err
			}
			r.cache[p] = b
		}
		if len(b) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("%s: %d bytes, a tile of width %d has %d", p, len(b), t.W, t.W*tlog.HashSize)
		}
		out[i] = b
	}
	return out, nil
}

func (r *tileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

// checkpoint is an opened, signature-checked checkpoint.
type checkpoint struct {
	origin string
	tree   tlog.Tree
}

// openCheckpoint verifies msg's signature by v and parses its body.
func openCheckpoint(msg []byte, v note.Verifier) (checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return checkpoint{}, fmt.Errorf("note.Open: %v", err)
	}
	origin, rest, ok := strings.Cut(n.Text, "\n")
	if !ok || origin != v.Name() {
		return checkpoint{}, fmt.Errorf("checkpoint origin %q is not the key's name %q", origin, v.Name())
	}
	// tlog.ParseTree wants the go.sum database's first line; the size and
	// root lines that follow are C2SP's, byte for byte
	tree, err := tlog.ParseTree([]byte("go.sum database tree\n" + rest))
	if err != nil {
		return checkpoint{}, fmt.Errorf("tlog.ParseTree: %v", err)
	}
	return checkpoint{origin, tree}, nil
}

// entries reads every entry of a tree of size n from its entry bundles.
func entries(src *source, n int64) ([][]byte, error) {
	var out [][]byte
	for k := int64(0); k*(1<<height) < n; k++ {
		w := n - k*(1<<height)
		if w > 1<<height {
			w = 1 << height
		}
		p, err := c2spPath(tlog.Tile{H: height, L: -1, N: k, W: int(w)})
		if err != nil {
			return nil, err
		}
		b, err := src.get(p)
		if err != nil {
			return nil, err
		}
		for i := int64(0); i < w; i++ {
			if len(b) < 2 {
				return nil, fmt.Errorf("%s: ends before entry %d", p, k*(1<<height)+i)
			}
			l := int(binary.BigEndian.Uint16(b))
			if len(b) < 2+l {
				return nil, fmt.Errorf("%s: entry %d is cut short", p, k*(1<<height)+i)
			}
			out = append(out, b[2:2+l])
			b = b[2+l:]
		}
		if len(b) != 0 {
			return nil, fmt.Errorf("%s: %d bytes after its %d entries", p, len(b), w)
		}
	}
	return out, nil
}

func run() (int, error) {
	key := flag.String("key", "", "the pinned verifier key (default: read log/key)")
	old := flag.String("old", "", "an earlier checkpoint file to prove consistent")
	caseID := flag.String("case", "", "require an entry of this case")
	flag.Parse()
	if flag.NArg() != 1 {
		return 2, errors.New("usage: tlogcheck [-key VKEY] [-old FILE] [-case ID] URL|DIR")
	}
	src := &source{client: &http.Client{Timeout: 30 * time.Second}}
	if arg := flag.Arg(0); strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://") {
		src.base = strings.TrimRight(arg, "/")
	} else {
		src.dir = arg
	}
	vkey := *key
	if vkey == "" {
		b, err := src.get("key")
		if err != nil {
			return 2, err
		}
		vkey = strings.TrimSpace(string(b))
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return 2, fmt.Errorf("note.NewVerifier: %v", err)
	}
	msg, err := src.get("checkpoint")
	if err != nil {
		return 2, err
	}
	cp, err := openCheckpoint(msg, v)
	if err != nil {
		return 1, err
	}
	fmt.Printf("checkpoint: origin %s, %d entries, root %s, signed by %s+%08x: OK\n",
		cp.origin, cp.tree.N, cp.tree.Hash, v.Name(), v.KeyHash())

	// a saved checkpoint for a larger tree than the served one: a rollback
	var prev checkpoint
	if *old != "" {
		b, err := os.ReadFile(*old)
		if err != nil {
			return 2, err
		}
		if prev, err = openCheckpoint(b, v); err != nil {
			return 1, fmt.Errorf("old checkpoint: %v", err)
		}
		if prev.tree.N > cp.tree.N {
			return 1, fmt.Errorf("the served checkpoint (%d entries) is older than the saved one (%d)", cp.tree.N, prev.tree.N)
		}
	}

	tr := &tileReader{src: src, cache: map[string][]byte{}}
	hr := tlog.TileHashReader(cp.tree, tr)
	root, err := tlog.TreeHash(cp.tree.N, hr)
	if err != nil {
		return 1, fmt.Errorf("tlog.TreeHash from the tiles: %v", err)
	}
	if root != cp.tree.Hash {
		return 1, errors.New("the tiles do not make the signed root")
	}

	all, err := entries(src, cp.tree.N)
	if err != nil {
		return 1, err
	}
	found := 0
	for i, e := range all {
		leaf := tlog.RecordHash(e)
		p, err := tlog.ProveRecord(cp.tree.N, int64(i), hr)
		if err != nil {
			return 1, fmt.Errorf("tlog.ProveRecord(%d): %v", i, err)
		}
		if err := tlog.CheckRecord(p, cp.tree.N, cp.tree.Hash, int64(i), leaf); err != nil {
			return 1, fmt.Errorf("entry %d is not in the signed tree: tlog.CheckRecord: %v", i, err)
		}
		if *caseID != "" {
			var item struct {
				ID string `json:"service_request_id"`
			}
			if json.Unmarshal(e, &item) == nil && item.ID == *caseID {
				found++
			}
		}
	}
	fmt.Printf("inclusion: all %d entries proved in the tree (tlog.ProveRecord, tlog.CheckRecord): OK\n", len(all))
	if *caseID != "" {
		if found == 0 {
			return 1, fmt.Errorf("no entry of case %s in the log", *caseID)
		}
		fmt.Printf("case %s: %d entries in the log: OK\n", *caseID, found)
	}

	if *old != "" {
		p, err := tlog.ProveTree(cp.tree.N, prev.tree.N, hr)
		if err != nil {
			return 1, fmt.Errorf("tlog.ProveTree: %v", err)
		}
		if err := tlog.CheckTree(p, cp.tree.N, cp.tree.Hash, prev.tree.N, prev.tree.Hash); err != nil {
			return 1, fmt.Errorf("the old tree is not a prefix of the new: tlog.CheckTree: %v", err)
		}
		fmt.Printf("consistency: %d entries extend to %d (tlog.ProveTree, tlog.CheckTree, %d hashes): OK\n",
			prev.tree.N, cp.tree.N, len(p))
	}
	fmt.Printf("read %d files\n", src.reads)
	return 0, nil
}

func main() {
	code, err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlogcheck: FAILED:", err)
	}
	os.Exit(code)
}
